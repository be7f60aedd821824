"""ResNet-18 for 40-48 px faces: torchvision's BasicBlock behind a CIFAR-style stem.

The ImageNet stem (7x7 stride-2 conv, then a stride-2 max pool) would shrink a 48 px face to
12 px before the first block, and the last stage would see 2x2 maps. A 3x3 stride-1 conv
without pooling keeps the full resolution for stage 1, so the stages see 48-24-12-6 px (40 px
ten-crops: 40-20-10-5). The blocks are imported from torchvision, not copied, so they stay
torchvision's (and their state-dict keys match torchvision's ``layerN.i.*`` inside each stage).
11,172,423 parameters with 3 input channels and 7 classes.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, conv1x1, conv3x3

WIDTHS = (64, 128, 256, 512)
BLOCKS = (2, 2, 2, 2)  # ResNet-18


CONV_INITS = ("kaiming", "pytorch")


def init_convs(net: nn.Module, conv_init: str = "kaiming") -> None:
    """Initialize every conv: ``kaiming`` (He-normal, fan_out: torchvision's ResNet) or
    ``pytorch`` (``Conv2d``'s own uniform ±1/sqrt(fan_in), 1/6 of He's variance).

    Behind batch norm a conv's scale does not change the forward pass, but its step does: SGD
    moves a weight of norm r by lr * |grad| / r relative, with |grad| ~ 1/r, so a layer learns at
    about lr / r**2. He-normal gives r**2 = 2 * in_channels, PyTorch's own out_channels / 3: in
    ResNet-18's 256 and 512 wide stages He's weights learn about 6x slower, while its 1-input stem
    (r**2 = 2 against 21) learns 10x faster. Batch norm keeps PyTorch's own (weight 1, bias 0).
    """
    if conv_init not in CONV_INITS:
        choices = ", ".join(CONV_INITS)
        raise ValueError(f"model.conv_init={conv_init!r} is unknown: use one of {choices}")
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            if conv_init == "kaiming":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                m.reset_parameters()


def pooled_head(channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Global average pooling, flatten, dropout, linear: ``classifier.pool ... classifier.fc``."""
    return nn.Sequential(
        OrderedDict(
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            drop=nn.Dropout(dropout),
            fc=nn.Linear(channels, num_classes),
        )
    )


def resnet_stage(in_channels: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    """torchvision's ``_make_layer`` for BasicBlock: a 1x1 projection where the shape changes."""
    downsample = None
    if stride != 1 or in_channels != width:
        downsample = nn.Sequential(conv1x1(in_channels, width, stride), nn.BatchNorm2d(width))
    layers = [BasicBlock(in_channels, width, stride, downsample)]
    layers += [BasicBlock(width, width) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNetFER(nn.Module):
    """``features.stem``, ``features.stage1..4``, then ``classifier`` (pool, flatten, drop, fc).

    ``zero_init_residual`` zeroes the last BN of each block so every block starts as the
    identity (Goyal et al. 2017). Off by default: here the identity net is the stem's 3x3 conv
    seen through three strided 1x1 projections, a 3x3-pixel view of the face; a branch's weights
    get no gradient until its BN gain grows, which a low warm-up lr barely does, so the network
    stays near the class prior for hundreds of steps (docs/strong_recipes.md).

    ``conv_init``: see ``init_convs`` (``pytorch`` by default: its smaller weights let the
    wide stages learn about as fast as the narrow ones; the runs: docs/strong_recipes.md).
    ``input_size`` is not needed (global average pooling takes any size); it is accepted so
    every model config has the same interface, and checked to be poolable.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 7,
        input_size: int = 48,
        dropout: float = 0.0,
        zero_init_residual: bool = False,
        conv_init: str = "pytorch",
    ) -> None:
        super().__init__()
        if input_size < 2 ** (len(WIDTHS) - 1):
            raise ValueError(f"input_size {input_size} is below 8: three stride-2 stages need 8")
        stages: OrderedDict[str, nn.Module] = OrderedDict(
            stem=nn.Sequential(
                OrderedDict(
                    conv=conv3x3(in_channels, WIDTHS[0]),
                    bn=nn.BatchNorm2d(WIDTHS[0]),
                    relu=nn.ReLU(inplace=True),
                )
            )
        )
        channels = WIDTHS[0]
        for i, (width, blocks) in enumerate(zip(WIDTHS, BLOCKS, strict=True), start=1):
            stages[f"stage{i}"] = resnet_stage(channels, width, blocks, stride=1 if i == 1 else 2)
            channels = width
        self.features = nn.Sequential(stages)
        self.classifier = pooled_head(channels, num_classes, dropout)
        init_convs(self, conv_init)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
