"""VGG-style FER network of Khaireddin & Chen (2021), "Facial Emotion Recognition: State of the
Art Performance on FER2013" (73.28% single-network accuracy on PrivateTest).

Four stages of two conv3x3-BN-ReLU blocks and a 2x2 max pool (64-128-256-512 channels), then
two fully connected layers of 4096 with ReLU and dropout, then the output layer. The authors
feed ten 40x40 crops (2x2 maps after the fourth pool); whole 48x48 faces give 3x3 maps, so the
flattened size follows ``input_size``. Their convolutions keep a bias before batch norm; it is
kept here so the parameter count matches theirs: 29,890,759 at 40 px with their one input
channel (29,891,911 with three; 40,377,671 at 48 px, where fc1 sees 512 * 3 * 3).

Plain ``torch.nn``, not ``torchvision.ops.Conv2dNormActivation``: that block names its layers
``0/1/2``, while hooks, summaries and checkpoints read better with ``stage1.conv1``, ``bn1``, ...
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

WIDTHS = (64, 128, 256, 512)


def vgg_stage(
    in_channels: int, out_channels: int, *, bias: bool = True, pool: bool = True
) -> nn.Sequential:
    """conv1-bn1-relu1-conv2-bn2-relu2[-pool]: the paper's stage, its layers named for hooks.

    ``bias=False`` drops the conv bias that batch norm cancels anyway (the paper keeps it).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, cin in enumerate((in_channels, out_channels), start=1):
        layers[f"conv{i}"] = nn.Conv2d(cin, out_channels, kernel_size=3, padding=1, bias=bias)
        layers[f"bn{i}"] = nn.BatchNorm2d(out_channels)
        layers[f"relu{i}"] = nn.ReLU(inplace=True)
    if pool:
        layers["pool"] = nn.MaxPool2d(kernel_size=2, stride=2)
    return nn.Sequential(layers)


class VggFER(nn.Module):
    """``features.stage1..4`` then ``classifier`` (flatten, fc1/relu1/drop1, fc2/relu2/drop2, fc).

    ``dropout`` follows each hidden fully connected layer (the paper's 0.2); ``hidden`` is their
    width (4096 in the paper: these two layers hold ~64% of the weights at 40 px).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 7,
        input_size: int = 48,
        dropout: float = 0.2,
        hidden: int = 4096,
    ) -> None:
        super().__init__()
        if input_size < 2 ** len(WIDTHS):
            raise ValueError(f"input_size {input_size} is below 16: four 2x2 pools leave nothing")
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        channels, size = in_channels, input_size
        for i, width in enumerate(WIDTHS, start=1):
            stages[f"stage{i}"] = vgg_stage(channels, width)
            channels, size = width, size // 2  # max pool floors: 40 -> 2, 48 -> 3
        self.features = nn.Sequential(stages)
        # flatten, not view: it also accepts channels-last feature maps.
        self.classifier = nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),
                fc1=nn.Linear(channels * size * size, hidden),
                relu1=nn.ReLU(inplace=True),
                drop1=nn.Dropout(dropout),
                fc2=nn.Linear(hidden, hidden),
                relu2=nn.ReLU(inplace=True),
                drop2=nn.Dropout(dropout),
                fc=nn.Linear(hidden, num_classes),
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
