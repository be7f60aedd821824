"""The six CNNs of the seed report (EmoCNN ... Emo6CNN), exact to its layer tables.

Every convolution is followed by BatchNorm and ReLU and, where the table shows one, a 2x2
pooling layer; the stages are named ``features.stage1 ...`` so hooks and summaries can address
them. Parameter counts (pinned by the tests): emo1 374,791; emo2 335,367; emo3 799,495;
emo4 5,261,063; emo5 1,565,767; emo6 809,735.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar, NamedTuple

from torch import Tensor, nn


class ConvSpec(NamedTuple):
    """One row of a seed table: conv(out_channels, kernel, padding) -> BN -> ReLU [-> pool]."""

    out_channels: int
    kernel: int = 3
    padding: int = 1
    pool: bool = False


def conv_stage(in_channels: int, spec: ConvSpec, pool: type[nn.Module]) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(in_channels, spec.out_channels, spec.kernel, padding=spec.padding),
        bn=nn.BatchNorm2d(spec.out_channels),
        relu=nn.ReLU(inplace=True),
    )
    if spec.pool:
        layers["pool"] = pool(kernel_size=2, stride=2)
    return nn.Sequential(layers)


class SeedCNN(nn.Module):
    """Stacked conv stages, then a linear classifier on the flattened feature map.

    Subclasses fill in the table. ``hidden`` adds the report's Linear(-> hidden) before the
    output layer with no activation between them, as the report's Emo4CNN has it.
    """

    table: ClassVar[tuple[ConvSpec, ...]] = ()
    pool: ClassVar[type[nn.Module]] = nn.MaxPool2d
    hidden: ClassVar[int | None] = None

    def __init__(self, in_channels: int = 3, num_classes: int = 7, input_size: int = 48) -> None:
        super().__init__()
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        channels, size = in_channels, input_size
        for i, spec in enumerate(self.table, start=1):
            stages[f"stage{i}"] = conv_stage(channels, spec, self.pool)
            channels = spec.out_channels
            size = size + 2 * spec.padding - spec.kernel + 1
            if spec.pool:
                size //= 2
        self.features = nn.Sequential(stages)
        # flatten, not view: it also accepts channels-last feature maps.
        head: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        flat = channels * size * size
        if self.hidden is not None:
            head["fc1"] = nn.Linear(flat, self.hidden)
            flat = self.hidden
        head["fc"] = nn.Linear(flat, num_classes)
        self.classifier = nn.Sequential(head)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


_P = ConvSpec  # short alias for the tables below


class EmoCNN(SeedCNN):
    """emo1: five 3x3 convs, max pooling after the 2nd and 3rd (48 -> 24 -> 12)."""

    table = (_P(16), _P(32, pool=True), _P(64, pool=True), _P(128), _P(128))


class Emo2CNN(SeedCNN):
    """emo2: emo1 without padding in the first three convs (46, 44, 22, 20, 10, then 10)."""

    table = (
        _P(16, padding=0),
        _P(32, padding=0, pool=True),
        _P(64, padding=0, pool=True),
        _P(128),
        _P(128),
    )


class Emo3CNN(SeedCNN):
    """emo3: emo1 with average pooling and a sixth conv to 256 channels."""

    table = (*EmoCNN.table, _P(256))
    pool = nn.AvgPool2d


class Emo4CNN(Emo3CNN):
    """emo4: emo3 with ``Linear(256 * 12 * 12 -> 128)`` before the output layer."""

    hidden = 128


class Emo5CNN(SeedCNN):
    """emo5: nine convs 16-32-64-128-128-256-256-128-64, average pooling after the 2nd, 3rd."""

    table = (
        _P(16),
        _P(32, pool=True),
        _P(64, pool=True),
        _P(128),
        _P(128),
        _P(256),
        _P(256),
        _P(128),
        _P(64),
    )
    pool = nn.AvgPool2d


class Emo6CNN(SeedCNN):
    """emo6: emo1 with 5x5 kernels and padding 2."""

    table = tuple(spec._replace(kernel=5, padding=2) for spec in EmoCNN.table)
