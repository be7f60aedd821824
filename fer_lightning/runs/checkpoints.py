"""Rebuild a trained EmotionClassifier from its checkpoint alone (the run's config is inside)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fer_lightning.errors import UserError
from fer_lightning.runs.allowed_targets import check_targets, update_moved
from fer_lightning.training.module import EmotionClassifier


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(
            f"{path}: no such checkpoint file (ckpt_path=...; runs keep theirs in "
            "<run folder>/checkpoints/)"
        )
    try:
        # Tensors and plain containers only: unpickling anything else can run code. Our own
        # checkpoints (the run config is plain data) load this way.
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        what = f" ({found.group(1)})" if found else ""
        raise UserError(
            f"{path}: refused: it holds Python objects{what} that would run code when loaded; "
            "fer_lightning checkpoints hold only tensors and plain data"
        ) from None
    except Exception as error:  # torch raises many types for a damaged file
        raise UserError(f"{path}: not a readable checkpoint ({type(error).__name__})") from None
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not isinstance(hparams, dict) or not isinstance(hparams.get("config"), dict):
        raise UserError(f"{path}: not a fer_lightning checkpoint (no run config inside)")
    update_moved(hparams["config"])
    check_targets(hparams["config"], path)
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
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"{path}: its weights do not fit the network its config names "
            f"({config.model._target_}): {first}"
        ) from None
    return module.eval(), config
