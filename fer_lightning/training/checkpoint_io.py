"""Checkpoints that are on disk when Lightning says they are saved, or a run that stops saying so.

Lightning's atomic save swallows a ``PermissionError`` (a folder that cannot be written): the run
went on and ended with exit 0 and no checkpoint to resume or test. ``CheckedCheckpointIO`` is
Lightning's own writer (``TorchCheckpointIO``) that looks at the file after each save and stops
the run with one line when it was not written, whoever saved (a ModelCheckpoint, the save on
interrupt, ``trainer.save_checkpoint``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from lightning.fabric.plugins import TorchCheckpointIO
from omegaconf import ListConfig

from fer_lightning.errors import UserError


def stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written anew (an atomic save replaces it); None: no file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


class CheckedCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that raises ``UserError`` when a local checkpoint was not written."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        local = "://" not in str(path)  # a remote store's files are its own to check
        before = stamp(Path(path)) if local else None
        try:
            super().save_checkpoint(checkpoint, path, storage_options)
        except OSError as error:
            raise UserError(not_saved(path, str(error))) from None
        if local and stamp(Path(path)) in (None, before):
            raise UserError(not_saved(path, "no file was written, without an error"))


def not_saved(path: Any, reason: str) -> str:
    return (
        f"checkpoint {path} was not saved ({reason}): make {Path(path).parent} writable, or "
        "write the run elsewhere (paths.log_dir=DIR)"
    )


def with_checked_saves(plugins: Any) -> list[Any]:
    """The trainer's configured plugins (one, or a list), and the checking checkpoint writer."""
    chosen = instantiate(plugins) if plugins is not None else []
    chosen = list(chosen) if isinstance(chosen, list | tuple | ListConfig) else [chosen]
    return [*chosen, CheckedCheckpointIO()]
