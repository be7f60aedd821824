"""Batched augmentation on the training device, built from the ``aug`` config group.

The per-face transforms are kornia augmentations: kornia draws parameters per sample (every face
in a batch gets its own jitter, crop, flip, ...) from torch's RNG, so ``seed`` makes runs
repeatable. Ten-crop training (Khaireddin & Chen 2021) and MixUp/CutMix come from torchvision's
batch transforms. Nothing here runs at evaluation except the matching crop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from hydra.utils import instantiate
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.transforms import v2

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

    def train(
        self, x: Tensor, labels: Tensor, soft: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """-> (faces, labels, soft targets: ``soft`` as given (FER+), MixUp/CutMix's, or None)."""
        if self.transforms is not None:
            x = self.transforms.to(x.device)(x)
        if self.mix is not None:  # before cropping: mix two faces, not one face's own crops
            if soft is not None:
                raise UserError(
                    "aug.mixup_alpha / aug.cutmix_alpha mix hard labels; with FER+ soft targets "
                    "(data.ferplus_scheme=crossentropy or multilabel) set both to 0"
                )
            x, soft = self.mix(x, labels)
            # Train accuracy is judged against the face that dominates the mix: the first
            # face's label is wrong whenever the second dominates, and read far below
            # validation (docs/gpu.md).
            labels = soft.argmax(dim=-1)
        if self.train_crop == "ten":
            views = eval_views(x, x.shape[-1], "ten", self.crop_size)
            x = torch.stack(views, dim=1).flatten(0, 1)  # face-major: a face's ten crops together
            labels = labels.repeat_interleave(10)
            soft = None if soft is None else soft.repeat_interleave(10, dim=0)
        return x, labels, soft

    def eval(self, x: Tensor) -> Tensor:
        """The evaluation view(s): [B, C, h, w], or [B, V, C, h, w] whose softmax is averaged.

        Test-time augmentation: ``hflip`` adds the mirror image; ``tencrop`` averages the ten
        ``crop_size`` crops, resized back to the network's input when it was trained on whole
        faces. A ten-crop-trained network already evaluates on its ten crops (mirrors included).
        """
        views = eval_views(x, x.shape[-1], self.eval_crop, self.crop_size, self.tta)
        return views[0] if len(views) == 1 else torch.stack(views, dim=1)

    def single_view(self) -> Augmentation:
        """The one view a picture of the network's input shows: the centre crop, if any."""
        return Augmentation(
            eval_crop="center" if self.eval_crop else None, crop_size=self.crop_size
        )


def five_crops(x: Tensor, size: int, crop: int) -> list[Tensor]:
    """torchvision's ``five_crop`` order (four corners, then the centre) of [..., size, size].

    Offsets are Python ints computed from ``size``: the exporters trace this function, and
    torchvision's crops read tensor shapes they cannot round.
    """
    top = left = round((size - crop) / 2.0)
    far = size - crop
    return [
        x[..., :crop, :crop],
        x[..., :crop, far:],
        x[..., far:, :crop],
        x[..., far:, far:],
        x[..., top : top + crop, left : left + crop],
    ]


def eval_views(
    x: Tensor, size: int, eval_crop: str | None, crop_size: int, tta: str = "none"
) -> list[Tensor]:
    """The evaluation views of [B, C, size, size] faces, each [B, C, h, w] (see ``eval``)."""
    # A network trained on crops sees the ten crops of the whole face: cropping its centre crop
    # again would give ten copies of the centre and its mirror image, hflip under another name.
    if eval_crop == "ten" or (eval_crop == "center" and tta == "tencrop"):
        return five_crops(x, size, crop_size) + five_crops(x.flip(-1), size, crop_size)
    if eval_crop == "center":
        x = five_crops(x, size, crop_size)[-1]
        size = crop_size
    if tta == "hflip":
        return [x, x.flip(-1)]
    if tta == "tencrop":
        # A network trained on whole faces: the crops resized back to its input (upsampling:
        # bilinear with or without antialias is one function).
        crops = five_crops(x, size, crop_size) + five_crops(x.flip(-1), size, crop_size)
        return [F.interpolate(v, size=(size, size), mode="bilinear") for v in crops]
    return [x]


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
    transforms = cfg.get("transforms") or []
    # By name in order (a null one is dropped), or a plain list (runs saved before the names).
    if isinstance(transforms, Mapping):
        transforms = [t for t in transforms.values() if t is not None]
    crop = cfg.get("crop") or {}
    return Augmentation(
        transforms=nn.Sequential(*(instantiate(t) for t in transforms)) if transforms else None,
        train_crop=crop.get("train"),
        eval_crop=crop.get("eval"),
        crop_size=crop.get("size", 40),
        mix=mixer(cfg.get("mixup_alpha", 0.0), cfg.get("cutmix_alpha", 0.0), num_classes),
        tta=tta or cfg.get("tta") or "none",
    )
