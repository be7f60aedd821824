"""Checkpoints read safely: tensors and plain data only, the config resolved and checked."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from fer_lightning.errors import UserError
from fer_lightning.runs.stored_config import safe_config


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
    hparams["config"] = safe_config(hparams["config"], path)
    return checkpoint
