"""CompactVGG: the network of ``experiment=fer_cpu``, sized for two CPU cores.

Khaireddin & Chen's VGG stages (2x conv3x3-BN-ReLU, then a 2x2 max pool) at a quarter of the
width and without the 4096-wide fully connected layers: 32-64-128-256 channels, global average
pooling, dropout and one linear layer. Its 2-conv stages keep the receptive field of the big
network, while the cost per face falls about 16x (FLOPs scale with width squared): 67 MMACs per
40x40 crop against 1.07 GMACs, so two CPU cores train the recipe's 60 epochs in about an hour
(the runs: docs/recipes.md). One input channel: the faces are grey, and a 3-channel stem would
only triple the first conv.
1,174,439 parameters with one input channel and 7 classes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from fer_lightning.models.resnet_fer import init_convs, pooled_head
from fer_lightning.models.vgg_fer import vgg_stage

WIDTHS = (32, 64, 128, 256)


class CompactVGG(nn.Module):
    """``features.stage1..N`` (the last without pooling), then ``classifier``.

    ``input_size`` is not needed (global average pooling takes any size); it is accepted so every
    model config has the same interface, and checked to survive the pools.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 7,
        input_size: int = 48,
        widths: Sequence[int] = WIDTHS,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if input_size < 2 ** (len(widths) - 1):
            raise ValueError(
                f"input_size {input_size} is too small for {len(widths) - 1} 2x2 pools"
            )
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_channels
        for i, width in enumerate(widths, start=1):
            # No conv bias: batch norm follows every conv. No pool after the last stage: global
            # average pooling follows it.
            stages[f"stage{i}"] = vgg_stage(channels, width, bias=False, pool=i < len(widths))
            channels = width
        self.features = nn.Sequential(stages)
        self.classifier = pooled_head(channels, num_classes, dropout)
        init_convs(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
