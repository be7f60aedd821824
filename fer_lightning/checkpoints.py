"""Rebuild a trained EmotionClassifier from its checkpoint alone (the run's config is inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fer_lightning.errors import UserError
from fer_lightning.module import EmotionClassifier


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(
            f"{path}: no such checkpoint file (ckpt_path=...; runs keep theirs in "
            "<run folder>/checkpoints/)"
        )
    try:
        # Our own checkpoints hold the run config (plain containers) besides tensors.
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for a damaged file
        raise UserError(f"{path}: not a readable checkpoint ({type(error).__name__})") from None
    if "config" not in checkpoint.get("hyper_parameters", {}):
        raise UserError(f"{path}: not a fer_lightning checkpoint (no run config inside)")
    return checkpoint


def load_classifier(path: str | Path) -> tuple[EmotionClassifier, DictConfig]:
    """The trained module in eval mode on the CPU, and the config of the run that made it."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    config = OmegaConf.create(hparams["config"])
    module = EmotionClassifier(
        net=instantiate(config.model),
        optimizer=None,
        class_names=hparams.get("class_names"),
        class_weights=hparams.get("class_weights"),
        label_smoothing=hparams.get("label_smoothing", 0.0),
        config=hparams["config"],
    )
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval(), config
