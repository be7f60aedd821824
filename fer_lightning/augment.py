"""Batched augmentation on the training device, built from the ``aug`` config group.

The per-face transforms are kornia augmentations: kornia draws parameters per sample (every face
in a batch gets its own jitter, crop, flip, ...) from torch's RNG, so ``seed`` makes runs
repeatable. Ten-crop training (Khaireddin & Chen 2021) and MixUp/CutMix come from torchvision's
batch transforms. Nothing here runs at evaluation except the matching crop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from hydra.utils import instantiate
from torch import Tensor, nn
from torchvision.transforms import v2
from torchvision.transforms.v2.functional import center_crop, resize, ten_crop

from fer_lightning.errors import UserError

CROPS = ("ten", "center", None)
TTA = ("none", "hflip", "tencrop")


@dataclass
class Augmentation:
    """What happens to a batch of [B, C, H, W] faces in 0..1 on the device.

    ``train_crop``: None or ``ten`` (the ten ``crop_size`` crops of each face as ten samples,
    labels repeated; a random crop per face is kornia's RandomCrop among the transforms).
    ``eval_crop``: None, ``center`` or ``ten`` (the views come back as [B, 10, C, h, w] and the
    module averages their softmax).
    """

    transforms: nn.Module | None = None
    train_crop: str | None = None
    eval_crop: str | None = None
    crop_size: int = 40
    mix: nn.Module | None = None
    tta: str = "none"

    def __post_init__(self) -> None:
        if self.tta not in TTA:
            raise UserError(f"tta={self.tta!r} is unknown: use one of {', '.join(TTA)}")
        for name in ("train_crop", "eval_crop"):
            if getattr(self, name) not in CROPS:
                raise ValueError(f"aug.{name} must be one of {CROPS}, got {getattr(self, name)!r}")

    def train(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """-> (faces, labels, soft targets of MixUp/CutMix or None)."""
        if self.transforms is not None:
            x = self.transforms.to(x.device)(x)
        soft = None
        if self.mix is not None:  # before cropping: mix two faces, not one face's own crops
            x, soft = self.mix(x, labels)
        if self.train_crop == "ten":
            x = torch.stack(ten_crop(x, [self.crop_size] * 2), dim=1).flatten(0, 1)
            labels = labels.repeat_interleave(10)
            soft = None if soft is None else soft.repeat_interleave(10, dim=0)
        return x, labels, soft

    def eval(self, x: Tensor) -> Tensor:
        """The evaluation view(s): [B, C, h, w], or [B, V, C, h, w] whose softmax is averaged.

        Test-time augmentation: ``hflip`` adds the mirror image; ``tencrop`` averages the ten
        ``crop_size`` crops, resized back to the network's input when it was trained on whole
        faces. A ten-crop-trained network already evaluates on its ten crops (mirrors included).
        """
        if self.eval_crop == "ten":
            return torch.stack(ten_crop(x, [self.crop_size] * 2), dim=1)
        if self.eval_crop == "center":
            x = center_crop(x, [self.crop_size] * 2)
        if self.tta == "hflip":
            return torch.stack([x, x.flip(-1)], dim=1)
        if self.tta == "tencrop":
            size = list(x.shape[-2:])
            crops = torch.stack(ten_crop(x, [self.crop_size] * 2), dim=1).flatten(0, 1)
            if size != [self.crop_size] * 2:
                crops = resize(crops, size, antialias=True)
            return crops.view(x.shape[0], 10, *x.shape[1:])
        return x


def mixer(mixup_alpha: float, cutmix_alpha: float, num_classes: int) -> nn.Module | None:
    """MixUp, CutMix, or a per-batch random choice of both (alpha 0 turns one off)."""
    mixes = []
    if mixup_alpha > 0:
        mixes.append(v2.MixUp(alpha=mixup_alpha, num_classes=num_classes))
    if cutmix_alpha > 0:
        mixes.append(v2.CutMix(alpha=cutmix_alpha, num_classes=num_classes))
    if not mixes:
        return None
    return mixes[0] if len(mixes) == 1 else v2.RandomChoice(mixes)


def build_augmentation(
    cfg: Mapping[str, Any] | None, num_classes: int = 7, tta: str | None = None
) -> Augmentation:
    """The ``aug`` config (transforms, crop, mixup_alpha, cutmix_alpha, tta) as an Augmentation.

    ``tta`` overrides the config's own (evaluation of a checkpoint chooses its own views).
    """
    cfg = cfg or {}
    transforms: Sequence[Mapping[str, Any]] = cfg.get("transforms") or []
    crop = cfg.get("crop") or {}
    return Augmentation(
        transforms=nn.Sequential(*(instantiate(t) for t in transforms)) if transforms else None,
        train_crop=crop.get("train"),
        eval_crop=crop.get("eval"),
        crop_size=crop.get("size", 40),
        mix=mixer(cfg.get("mixup_alpha", 0.0), cfg.get("cutmix_alpha", 0.0), num_classes),
        tta=tta or cfg.get("tta") or "none",
    )
