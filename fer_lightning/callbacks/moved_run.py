"""A resumed run whose folder was copied or moved takes up its checkpoint record in the new place.

``ModelCheckpoint`` keeps the paths of its files (the best, the k best, the last) in its state.
Lightning restores that record only when the folder is unchanged, and ``best_model_path``
always: a resumed copy would test the original's best checkpoint (and could delete the
original's files as better ones arrive), and a moved run would look for files that are gone.
Paths inside the saved run folder are rebased onto the new one; paths outside it, or files
not in the new folder, are dropped, since a resumed run writes and reads only its own folder.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import lightning as L

log = logging.getLogger("fer_lightning")

# ModelCheckpoint's state entries that hold one file or folder path.
PATH_ENTRIES = ("dirpath", "best_model_path", "kth_best_model_path", "last_model_path")


def rebased(path: str, old: str, new: str) -> str | None:
    """``path`` moved from under ``old`` to under ``new``; None when it is outside ``old``.

    Lightning keeps checkpoint folders with symbolic links resolved: both spellings count.
    """
    if path == new or path.startswith(new + os.sep):
        return path
    for spelling in (old, os.path.realpath(old)):
        if path == spelling or path.startswith(spelling + os.sep):
            return new + path[len(spelling) :]
    return None


class MovedRun(L.Callback):
    """Rebases the checkpoint callbacks' saved paths from the saved folder onto ``output_dir``."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = os.path.normpath(output_dir)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        config = (checkpoint.get("hyper_parameters") or {}).get("config") or {}
        old = str((config.get("paths") or {}).get("output_dir") or "")
        if not old:
            return
        old, new = os.path.normpath(old), self.output_dir
        for state in (checkpoint.get("callbacks") or {}).values():
            if not isinstance(state, dict):
                continue
            for entry in PATH_ENTRIES:
                if isinstance(state.get(entry), str) and state[entry]:
                    state[entry] = here(state[entry], old, new, folder=entry == "dirpath")
            if isinstance(state.get("best_k_models"), dict):
                kept = {here(str(p), old, new): v for p, v in state["best_k_models"].items()}
                state["best_k_models"] = {p: v for p, v in kept.items() if p}


def here(path: str, old: str, new: str, folder: bool = False) -> str:
    """``path`` in the resumed run's folder, or "" when it is outside or not there (a
    checkpoint resumed into a new folder leaves its run's other files behind)."""
    moved = rebased(path, old, new)
    if moved is None or not (folder or os.path.exists(moved)):
        if not folder and os.path.exists(path):
            log.warning("%s is outside the resumed run's folder %s: not used", path, new)
        return ""
    return moved
