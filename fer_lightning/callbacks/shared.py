"""What callbacks share: TensorBoard and its step, class names, one collector of predictions.

``validation_step`` and ``test_step`` return each batch's probabilities and labels; the
callbacks that need a whole split's predictions (confusion matrices, PR curves, the test
report, the most confident mistakes) subclass ``EpochPredictions`` and get them once per epoch,
gathered from every process, without a second forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor
from torchmetrics.utilities.distributed import gather_all_tensors

from fer_lightning.data.labels import EMOTIONS


def tensorboards(trainer: L.Trainer) -> list[TensorBoardLogger]:
    return [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


def scalar_step(trainer: L.Trainer) -> int:
    """The step Lightning files the current epoch's scalars under; pictures use it to line up.

    While fitting, epoch-end scalars go to the epoch's last optimizer step (global_step - 1);
    a test's go to global_step.
    """
    if trainer.state.fn == TrainerFn.FITTING:
        return max(trainer.global_step - 1, 0)
    return trainer.global_step


def resuming(trainer: L.Trainer) -> bool:
    """True in a fit continued from a checkpoint: its start-of-fit pictures were drawn by the
    first process and must not be replaced by the restored (trained) network's."""
    return trainer.ckpt_path is not None


def class_names_of(pl_module: L.LightningModule) -> tuple[str, ...]:
    return tuple(getattr(pl_module, "class_names", None) or EMOTIONS)


def gather(tensor: Tensor) -> Tensor:
    """All processes' rows (sizes may differ), so rank 0 writes results of the whole split."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.cat(gather_all_tensors(tensor))
    return tensor


class EpochPredictions(L.Callback):
    """Collects a split's probabilities and labels; ``on_predictions`` gets them at epoch end.

    ``stages``: which of ``val`` and ``test`` the subclass wants. Validation during the sanity
    check is not collected: it sees two batches of an untrained network.
    """

    stages: Sequence[str] = ("val", "test")

    def __init__(self) -> None:
        self._rows: dict[str, tuple[list[Tensor], list[Tensor]]] = {}

    def on_predictions(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        stage: str,
        probs: Tensor,
        labels: Tensor,
    ) -> None:
        """One epoch's predictions of ``stage``: float probs [N, classes], labels [N], CPU."""

    def _start(self, stage: str) -> None:
        if stage in self.stages:
            self._rows[stage] = ([], [])

    def _collect(self, stage: str, outputs: Any) -> None:
        if stage in self._rows and isinstance(outputs, dict) and "probs" in outputs:
            self._rows[stage][0].append(outputs["probs"].detach())
            self._rows[stage][1].append(outputs["labels"].detach())

    def _end(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        probs, labels = self._rows.pop(stage, ([], []))
        if probs:
            probs_all = gather(torch.cat(probs)).float().cpu()
            labels_all = gather(torch.cat(labels)).long().cpu()
            self.on_predictions(trainer, pl_module, stage, probs_all, labels_all)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._start("val")

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not trainer.sanity_checking:
            self._collect("val", outputs)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._end(trainer, pl_module, "val")

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start("test")

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._collect("test", outputs)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._end(trainer, pl_module, "test")
