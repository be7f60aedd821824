"""Confusion matrices: which emotions the model mistakes for which (fear for sad, ...)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchmetrics.functional.classification import multiclass_confusion_matrix

from fer_lightning.callbacks.shared import (
    EpochPredictions,
    class_names_of,
    scalar_step,
    tensorboards,
)
from fer_lightning.plots.files import save_figure
from fer_lightning.plots.predictions import confusion_figure

log = logging.getLogger(__name__)


class ConfusionMatrix(EpochPredictions):
    """The validation confusion matrix in TensorBoard every ``every_n_epochs`` epochs, the best
    epoch's as ``confusion_matrix_best.png``, and the test split's as PNG and CSV.

    The best validation accuracy so far is part of the callback's checkpoint state, so a
    resumed run keeps comparing against it.
    """

    def __init__(self, output_dir: str, every_n_epochs: int = 1) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be at least 1, not {every_n_epochs}")
        super().__init__()
        self.output_dir = Path(output_dir)
        self.every_n_epochs = every_n_epochs
        self.best_acc: float | None = None

    @rank_zero_only
    def on_predictions(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        stage: str,
        probs: Tensor,
        labels: Tensor,
    ) -> None:
        names = class_names_of(pl_module)
        counts = multiclass_confusion_matrix(probs, labels, len(names)).numpy()
        acc = float(np.trace(counts) / max(counts.sum(), 1))
        if stage == "test":
            self._write_test(trainer, counts, names, acc)
            return
        best = trainer.state.fn == TrainerFn.FITTING and (
            self.best_acc is None or acc > self.best_acc
        )
        if best:
            self.best_acc = acc
        log_now = (trainer.current_epoch + 1) % self.every_n_epochs == 0
        if best or log_now:
            self._write_val(trainer, counts, names, acc, best, log_now)

    def _write_val(
        self,
        trainer: L.Trainer,
        counts: np.ndarray,
        names: Sequence[str],
        acc: float,
        best: bool,
        log_now: bool,
    ) -> None:
        epoch = trainer.current_epoch
        fig = confusion_figure(counts, names, f"Validation, epoch {epoch} (accuracy {acc:.4f})")
        if log_now:
            for logger in tensorboards(trainer):
                logger.experiment.add_figure(
                    "val/confusion_matrix", fig, global_step=scalar_step(trainer), close=False
                )
        if best:
            save_figure(fig, self.output_dir / "confusion_matrix_best.png")
        plt.close(fig)

    def _write_test(
        self, trainer: L.Trainer, counts: np.ndarray, names: Sequence[str], acc: float
    ) -> None:
        fig = confusion_figure(counts, names, f"Test, {counts.sum()} faces (accuracy {acc:.4f})")
        path = save_figure(fig, self.output_dir / "confusion_matrix_test.png")
        for logger in tensorboards(trainer):
            logger.experiment.add_figure(
                "test/confusion_matrix", fig, global_step=scalar_step(trainer), close=False
            )
        plt.close(fig)
        table = pd.DataFrame(counts, index=pd.Index(list(names), name="true"), columns=list(names))
        table.to_csv(self.output_dir / "confusion_matrix_test.csv")
        log.info("Wrote %s", path)

    def state_dict(self) -> dict[str, Any]:
        return {"best_acc": self.best_acc}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_acc = state_dict.get("best_acc")
