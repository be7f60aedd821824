"""Per-class results beyond the module's scalars: PR curves and the test classification report.

The module logs per-class precision/recall/F1 as scalars (and the CSV logger keeps them in
``metrics.csv``); this callback adds what scalars cannot show: a precision-recall curve per
emotion each validation epoch, and a ``classification_report``-style table of the test split.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from fer_lightning.callbacks.shared import (
    EpochPredictions,
    class_names_of,
    scalar_step,
    tensorboards,
)
from fer_lightning.plots.files import save_figure
from fer_lightning.plots.predictions import per_class_figure

log = logging.getLogger(__name__)

SCORES = {
    "precision": multiclass_precision,
    "recall": multiclass_recall,
    "f1": multiclass_f1_score,
}
REPORT_COLUMNS = ("precision", "recall", "f1", "support")


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


class ClassMetrics(EpochPredictions):
    """Per-class PR curves of validation (each epoch) and test; the test split's report.

    Writes ``test_classification_report.txt`` (scikit-learn's layout) and ``.csv``, the report
    as markdown to TensorBoard's text dashboard, and ``test_per_class.png`` (precision, recall
    and F1 per class, also in TensorBoard as ``test/per_class``).
    """

    def __init__(self, output_dir: str, pr_curves: bool = True) -> None:
        super().__init__()
        self.output_dir = Path(output_dir)
        self.pr_curves = pr_curves

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
        if self.pr_curves:
            self._log_pr_curves(trainer, stage, probs, labels, names)
        if stage == "test":
            self._write_report(trainer, classification_report(probs, labels, names))

    def _log_pr_curves(
        self,
        trainer: L.Trainer,
        stage: str,
        probs: Tensor,
        labels: Tensor,
        names: Sequence[str],
    ) -> None:
        for logger in tensorboards(trainer):
            for k, name in enumerate(names):
                logger.experiment.add_pr_curve(
                    f"{stage}/pr/{name}",
                    (labels == k).numpy(),
                    probs[:, k].numpy(),
                    global_step=scalar_step(trainer),
                )

    def _write_report(self, trainer: L.Trainer, report: pd.DataFrame) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "test_classification_report.txt"
        path.write_text(report_text(report))
        report.to_csv(path.with_suffix(".csv"))
        fig = per_class_figure(report.iloc[:-3], "Test, per class")
        save_figure(fig, self.output_dir / "test_per_class.png")
        for logger in tensorboards(trainer):
            logger.experiment.add_text(
                "test/classification_report", report_markdown(report), scalar_step(trainer)
            )
            logger.experiment.add_figure(
                "test/per_class", fig, global_step=scalar_step(trainer), close=False
            )
        plt.close(fig)
        log.info("Wrote %s", path)
