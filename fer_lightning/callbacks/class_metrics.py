"""Per-class results beyond the module's scalars: PR curves, a metrics table, a test report.

The module logs per-class precision/recall/F1 as TensorBoard scalars; this callback adds what
scalars cannot show (precision-recall curves per emotion), one ``metrics.csv`` row per epoch
for spreadsheets and reports, and a ``classification_report``-style table of the test split.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)
from torchmetrics.utilities.distributed import gather_all_tensors

from fer_lightning.data.labels import EMOTIONS

log = logging.getLogger(__name__)

SCORES = {
    "precision": multiclass_precision,
    "recall": multiclass_recall,
    "f1": multiclass_f1_score,
}
REPORT_COLUMNS = ("precision", "recall", "f1", "support")


def class_names_of(pl_module: L.LightningModule) -> tuple[str, ...]:
    return tuple(getattr(pl_module, "class_names", None) or EMOTIONS)


def tensorboards(trainer: L.Trainer) -> list[TensorBoardLogger]:
    return [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]


def gather(tensor: Tensor) -> Tensor:
    """All processes' rows (sizes may differ), so rank 0 writes results of the whole split."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.cat(gather_all_tensors(tensor))
    return tensor


def metrics_columns(class_names: Sequence[str]) -> list[str]:
    """``metrics.csv``'s columns: losses, accuracy, macro scores, then each score per class."""
    per_class = [f"val_{score}_{name}" for score in SCORES for name in class_names]
    return ["epoch", "train_loss", "val_loss", "val_acc", *(f"val_{s}" for s in SCORES), *per_class]


def validation_row(probs: Tensor, labels: Tensor, class_names: Sequence[str]) -> dict[str, float]:
    """Accuracy, macro and per-class scores as torchmetrics (and so the module) computes them."""
    n = len(class_names)
    row = {"val_acc": float(multiclass_accuracy(probs, labels, n, average="micro"))}
    for score, fn in SCORES.items():
        row[f"val_{score}"] = float(fn(probs, labels, n, average="macro"))
        for name, value in zip(class_names, fn(probs, labels, n, average=None), strict=True):
            row[f"val_{score}_{name}"] = float(value)
    return row


def write_metrics_row(path: Path, row: dict[str, Any], columns: Sequence[str]) -> pd.DataFrame:
    """Rewrite ``path`` with ``row`` as its last epoch; returns the table.

    Rows of the same or later epochs are replaced: a resumed run (same folder) writes each epoch
    once, and the file ends at the run's present. It is replaced atomically, so a killed run
    keeps every earlier row.
    """
    records: list[dict[str, Any]] = []
    if path.exists() and path.stat().st_size:
        old = pd.read_csv(path)
        records = old[old["epoch"] < row["epoch"]].to_dict("records")
    table = pd.DataFrame([*records, row], columns=list(columns))
    table["epoch"] = table["epoch"].astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    return table


def classification_report(
    probs: Tensor, labels: Tensor, class_names: Sequence[str]
) -> pd.DataFrame:
    """scikit-learn's ``classification_report`` as a table, computed with torchmetrics.

    Rows: one per class, then ``accuracy`` (its value in the f1 column, as scikit-learn prints
    it), ``macro avg`` and ``weighted avg`` (weighted by support).
    """
    n = len(class_names)
    support = torch.bincount(labels.long().cpu(), minlength=n)
    table = pd.DataFrame(
        {score: fn(probs, labels, n, average=None).cpu().numpy() for score, fn in SCORES.items()},
        index=pd.Index(list(class_names), name="class"),
    )
    table["support"] = support.numpy()
    total = int(support.sum())
    accuracy = float(multiclass_accuracy(probs, labels, n, average="micro"))
    table.loc["accuracy"] = [math.nan, math.nan, accuracy, total]
    for label, average in (("macro avg", "macro"), ("weighted avg", "weighted")):
        scores = [float(fn(probs, labels, n, average=average)) for fn in SCORES.values()]
        table.loc[label] = [*scores, total]
    table["support"] = table["support"].astype(int)
    return table


def report_text(table: pd.DataFrame, digits: int = 4) -> str:
    """Aligned text in scikit-learn's layout (a blank line before the summary rows)."""
    width = max(len(str(name)) for name in table.index)
    head = f"{'':>{width}}" + "".join(f"{c:>11}" for c in REPORT_COLUMNS)
    lines = [head, ""]
    for name, values in table.iterrows():
        if name == "accuracy":
            lines.append("")
        cells = [
            "" if pd.isna(values[c]) else f"{values[c]:.{digits}f}" for c in REPORT_COLUMNS[:3]
        ]
        cells.append(str(int(values["support"])))
        lines.append(f"{name:>{width}}" + "".join(f"{c:>11}" for c in cells))
    return "\n".join(lines) + "\n"


def report_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """The table for TensorBoard's text dashboard, which renders markdown."""
    lines = ["| class | " + " | ".join(REPORT_COLUMNS) + " |", "|---" * 5 + "|"]
    for name, values in table.iterrows():
        cells = [
            "" if pd.isna(values[c]) else f"{values[c]:.{digits}f}" for c in REPORT_COLUMNS[:3]
        ]
        lines.append(f"| {name} | " + " | ".join([*cells, str(int(values["support"]))]) + " |")
    return "\n".join(lines)


class ClassMetrics(L.Callback):
    """Per-class PR curves and ``metrics.csv`` each validation epoch; a test report at test end.

    Works from the probabilities ``validation_step``/``test_step`` return, so it costs no extra
    forward pass, and computes its numbers itself: a callback's ``on_validation_epoch_end`` runs
    before the module's, when this epoch's per-class values are not logged yet.
    """

    def __init__(self, output_dir: str, pr_curves: bool = True) -> None:
        self.output_dir = Path(output_dir)
        self.pr_curves = pr_curves
        self._probs: list[Tensor] = []
        self._labels: list[Tensor] = []
        self._row: dict[str, Any] | None = None  # this epoch's validation columns

    # -- collecting --------------------------------------------------------------------------
    def _reset(self) -> None:
        self._probs, self._labels = [], []

    def _collect(self, outputs: Any) -> None:
        if isinstance(outputs, dict) and "probs" in outputs:
            self._probs.append(outputs["probs"].detach())
            self._labels.append(outputs["labels"].detach())

    def _collected(self) -> tuple[Tensor, Tensor] | None:
        """All processes' probabilities and labels on the CPU, or None if nothing came."""
        if not self._probs:
            return None
        probs, labels = torch.cat(self._probs), torch.cat(self._labels)
        self._reset()
        return gather(probs).float().cpu(), gather(labels).long().cpu()

    # -- validation --------------------------------------------------------------------------
    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reset()

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
            self._collect(outputs)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        collected = self._collected()
        if collected is None:
            return
        probs, labels = collected
        names = class_names_of(pl_module)
        self._row = {"epoch": trainer.current_epoch, **validation_row(probs, labels, names)}
        if self.pr_curves:
            self._log_pr_curves(trainer, probs, labels, names)

    @rank_zero_only
    def _log_pr_curves(
        self, trainer: L.Trainer, probs: Tensor, labels: Tensor, names: Sequence[str]
    ) -> None:
        for logger in tensorboards(trainer):
            for k, name in enumerate(names):
                logger.experiment.add_pr_curve(
                    f"val_pr/{name}",
                    (labels == k).numpy(),
                    probs[:, k].numpy(),
                    global_step=trainer.current_epoch,
                )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The epoch's val/loss is in callback_metrics from here on; the row is written now so a
        # run killed before the training epoch ends still has it.
        if trainer.sanity_checking or self._row is None or trainer.state.fn != TrainerFn.FITTING:
            return
        val_loss = trainer.callback_metrics.get("val/loss")
        self._row["val_loss"] = None if val_loss is None else float(val_loss)
        self._write_row(dict(self._row), class_names_of(pl_module))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Runs after the epoch's validation, when train/loss_epoch has just been reduced.
        epoch = trainer.current_epoch
        row = dict(self._row) if self._row and self._row["epoch"] == epoch else {"epoch": epoch}
        train_loss = trainer.callback_metrics.get("train/loss_epoch")
        row["train_loss"] = None if train_loss is None else float(train_loss)
        self._write_row(row, class_names_of(pl_module))

    @rank_zero_only
    def _write_row(self, row: dict[str, Any], names: Sequence[str]) -> None:
        write_metrics_row(self.output_dir / "metrics.csv", row, metrics_columns(names))

    # -- test --------------------------------------------------------------------------------
    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reset()

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._collect(outputs)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        collected = self._collected()
        if collected is not None:
            report = classification_report(*collected, class_names_of(pl_module))
            self._write_report(trainer, report)

    @rank_zero_only
    def _write_report(self, trainer: L.Trainer, report: pd.DataFrame) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "test_classification_report.txt"
        path.write_text(report_text(report))
        report.to_csv(path.with_suffix(".csv"))
        for logger in tensorboards(trainer):
            logger.experiment.add_text(
                "test/classification_report", report_markdown(report), trainer.global_step
            )
        log.info("Wrote %s", path)
