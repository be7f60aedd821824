"""What makes a stopped run resume to the same result: per-epoch seeds and saved RNG states, a
save on interrupt (the loader's place in its epoch: fer_lightning.data.batches)."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger("fer_lightning")


class ReseedEachEpoch(L.Callback):
    """Seeds every RNG from (seed, epoch) at the start of each training epoch.

    The shuffling, augmentation, dropout and mixing of an epoch then depend on its number only,
    so a run resumed from an epoch's checkpoint draws exactly what the uninterrupted run drew.
    A checkpoint taken inside an epoch also holds the RNGs' states (Lightning's do not), which
    a run resumed into that same epoch takes up instead of the epoch's seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch: int | None = None
        self._resumed: dict[str, Any] | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning skips on_train_epoch_start when it resumes inside an epoch: take up there.
        resumed, self._resumed = self._resumed, None
        if resumed is not None and resumed["epoch"] == trainer.current_epoch:
            set_rng_states(resumed["rng"])
            self.epoch = trainer.current_epoch
        elif (
            0
            < trainer.fit_loop.epoch_loop.batch_progress.current.completed
            < (trainer.num_training_batches)
        ):
            log.warning(
                "This checkpoint was saved inside epoch %d by an older fer_lightning, without "
                "the loader's place or the RNG states: the epoch goes on with its first batches "
                "and other augmentations (resume from an epoch's checkpoint to avoid it)",
                trainer.current_epoch,
            )

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch = trainer.current_epoch
        L.seed_everything(
            self.seed + 1_000_003 * trainer.current_epoch, workers=True, verbose=False
        )

    def state_dict(self) -> dict[str, Any]:
        return {} if self.epoch is None else {"epoch": self.epoch, "rng": rng_states()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resumed = state_dict or None


def rng_states() -> dict[str, Any]:
    """Every RNG a training step may draw from, as tensors and tuples: a checkpoint loads with
    ``weights_only=True``, which refuses NumPy arrays (Lightning's own collector keeps one)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class SaveOnInterrupt(L.Callback):
    """Ctrl-C or SIGTERM (a cluster's pre-emption) saves ``last.ckpt`` before the run exits.

    Lightning stops at the next batch boundary and calls this hook; the checkpoint is written
    atomically by Lightning's checkpoint IO, so the previous one stays whole if this is cut short.
    """

    def __init__(self, dirpath: str, filename: str = "last.ckpt") -> None:
        self.path = Path(dirpath) / filename

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, KeyboardInterrupt | SIGTERMException) and trainer.training:
            trainer.save_checkpoint(self.path)
            log.info("Interrupted: saved %s (resume with ckpt_path=last)", self.path)
