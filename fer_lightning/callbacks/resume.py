"""What makes a killed run resumable to the same result: per-epoch seeds, a save on interrupt."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger("fer_lightning")


class ReseedEachEpoch(L.Callback):
    """Seeds every RNG from (seed, epoch) at the start of each training epoch.

    The shuffling, augmentation, dropout and mixing of an epoch then depend on its number only,
    so a run resumed from an epoch's checkpoint draws exactly what the uninterrupted run drew
    (checkpoints do not hold RNG states).
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        L.seed_everything(
            self.seed + 1_000_003 * trainer.current_epoch, workers=True, verbose=False
        )


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
