"""Networks: plain nn.Modules with named stages, no Lightning and no config inside."""

from fer_lightning.models.compact_vgg import CompactVGG
from fer_lightning.models.resnet_fer import ResNetFER
from fer_lightning.models.seed_cnns import (
    Emo2CNN,
    Emo3CNN,
    Emo4CNN,
    Emo5CNN,
    Emo6CNN,
    EmoCNN,
    SeedCNN,
)
from fer_lightning.models.vgg_fer import VggFER

__all__ = [
    "CompactVGG",
    "Emo2CNN",
    "Emo3CNN",
    "Emo4CNN",
    "Emo5CNN",
    "Emo6CNN",
    "EmoCNN",
    "ResNetFER",
    "SeedCNN",
    "VggFER",
]
