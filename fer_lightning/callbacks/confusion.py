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
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix

from fer_lightning.callbacks.class_metrics import class_names_of, tensorboards

log = logging.getLogger(__name__)


def confusion_figure(counts: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """Counts beside the row-normalized matrix (each row: recall of that true class)."""
    counts = np.asarray(counts, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(class_names)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6))
    panels = (
        (axes[0], counts, max(int(counts.max()), 1), "d", "faces", "Counts"),
        (axes[1], recall, 1.0, ".2f", "fraction of the true class", "Row-normalized (recall)"),
    )
    for ax, data, vmax, fmt, bar_label, panel_title in panels:
        image = ax.imshow(data, cmap="Blues", vmin=0, vmax=vmax)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=bar_label)
        ax.set_xticks(range(n), class_names, rotation=40, ha="right")
        ax.set_yticks(range(n), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(panel_title, fontsize=10)
        for i in range(n):
            for j in range(n):
                value = data[i, j]
                color = "white" if value > vmax / 2 else "black"
                ax.text(j, i, format(value, fmt), ha="center", va="center", color=color, fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write through a temporary file: a reader never sees half a picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=100, format="png")
    tmp.replace(path)
    return path


class ConfusionMatrix(L.Callback):
    """The validation confusion matrix in TensorBoard every ``every_n_epochs`` epochs, the best
    epoch's as ``confusion_matrix_best.png``, and the test split's as PNG and CSV.

    Counts accumulate in a torchmetrics metric on the module's device from the probabilities the
    steps return (no extra forward pass); the metric also sums them over processes. The best
    validation accuracy so far is part of the callback's checkpoint state, so a resumed run keeps
    comparing against it.
    """

    def __init__(self, output_dir: str, every_n_epochs: int = 1) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be at least 1, not {every_n_epochs}")
        self.output_dir = Path(output_dir)
        self.every_n_epochs = every_n_epochs
        self.best_acc: float | None = None
        self._matrices: dict[str, MulticlassConfusionMatrix] = {}

    def _matrix(self, stage: str, pl_module: L.LightningModule) -> MulticlassConfusionMatrix:
        matrix = self._matrices.get(stage)
        if matrix is None:
            matrix = MulticlassConfusionMatrix(len(class_names_of(pl_module)))
            self._matrices[stage] = matrix
        return matrix

    def _update(self, stage: str, pl_module: L.LightningModule, outputs: Any) -> None:
        if not (isinstance(outputs, dict) and "probs" in outputs):
            return
        probs: Tensor = outputs["probs"]
        matrix = self._matrix(stage, pl_module)
        if matrix.device != probs.device:
            matrix.to(probs.device)
        matrix.update(probs.detach(), outputs["labels"])

    def _compute(self, stage: str) -> np.ndarray | None:
        """The epoch's counts (summed over processes), then reset; None if nothing came."""
        matrix = self._matrices.get(stage)
        if matrix is None or matrix.update_count == 0:
            return None
        counts = matrix.compute().cpu().numpy()
        matrix.reset()
        return counts

    # -- validation --------------------------------------------------------------------------
    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "val" in self._matrices:
            self._matrices["val"].reset()

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
            self._update("val", pl_module, outputs)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        counts = self._compute("val")
        if counts is None:
            return
        acc = float(np.trace(counts) / max(counts.sum(), 1))
        best = False
        if trainer.state.fn == TrainerFn.FITTING and (self.best_acc is None or acc > self.best_acc):
            self.best_acc, best = acc, True
        log_now = (trainer.current_epoch + 1) % self.every_n_epochs == 0
        if best or log_now:
            self._write_val(trainer, counts, class_names_of(pl_module), acc, best, log_now)

    @rank_zero_only
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
                    "val/confusion_matrix", fig, global_step=epoch, close=False
                )
        if best:
            save_png(fig, self.output_dir / "confusion_matrix_best.png")
        plt.close(fig)

    # -- test --------------------------------------------------------------------------------
    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "test" in self._matrices:
            self._matrices["test"].reset()

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._update("test", pl_module, outputs)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        counts = self._compute("test")
        if counts is not None:
            self._write_test(trainer, counts, class_names_of(pl_module))

    @rank_zero_only
    def _write_test(self, trainer: L.Trainer, counts: np.ndarray, names: Sequence[str]) -> None:
        acc = float(np.trace(counts) / max(counts.sum(), 1))
        fig = confusion_figure(counts, names, f"Test, {counts.sum()} faces (accuracy {acc:.4f})")
        path = save_png(fig, self.output_dir / "confusion_matrix_test.png")
        for logger in tensorboards(trainer):
            logger.experiment.add_figure(
                "test/confusion_matrix", fig, global_step=trainer.global_step, close=False
            )
        plt.close(fig)
        table = pd.DataFrame(counts, index=pd.Index(list(names), name="true"), columns=list(names))
        table.to_csv(self.output_dir / "confusion_matrix_test.csv")
        log.info("Wrote %s", path)

    # -- checkpoint --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"best_acc": self.best_acc}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_acc = state_dict.get("best_acc")
