"""Batched augmentation on the training device, built from the ``aug`` config group.

Each entry of ``aug.train`` is an instantiable kornia augmentation; kornia draws parameters per
sample, so every face in a batch gets its own jitter, and it draws them from torch's RNG, so
``seed`` makes runs repeatable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra.utils import instantiate
from torch import nn


def build_augmentation(transforms: Sequence[Mapping[str, Any]] | None) -> nn.Module | None:
    """An ``nn.Sequential`` of the configured transforms, or None for no augmentation."""
    if not transforms:
        return None
    return nn.Sequential(*(instantiate(t) for t in transforms))
