"""TensorBoard's first screens: the run's choices in HParams, the curves in Custom Scalars.

HParams lists the choices that define a run against metrics it reads from the run's own
scalars (val/acc, test/acc, ...): no placeholder values are logged, so no chart starts from a
fake 0. Whole numbers are shown as written (as text: the dashboard prints numbers as floats).
Custom Scalars puts train against validation in one chart each, every class of a per-class
score in one chart, and the learning rate.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.tensorboard.summary import hparams as hparams_summary

from fer_lightning.callbacks.shared import tensorboards

# The metrics the HParams dashboard compares runs by, read from the scalars of these names.
METRICS = ("val/acc", "val/loss", "val/f1", "test/acc", "test/loss", "test/f1")

# Chart tags are regular expressions that TensorBoard searches for: anchored, or val/f1 would
# also draw every val/f1/<class>.
LAYOUT = {
    "curves": {
        "loss: train and validation": ["Multiline", ["^train/loss$", "^val/loss$"]],
        "accuracy: train and validation": ["Multiline", ["^train/acc$", "^val/acc$"]],
        "macro F1: train and validation": ["Multiline", ["^train/f1$", "^val/f1$"]],
        "learning rate": ["Multiline", ["^step/lr$"]],
    },
    "validation per class": {
        "recall": ["Multiline", ["^val/recall/"]],
        "precision": ["Multiline", ["^val/precision/"]],
        "F1": ["Multiline", ["^val/f1/"]],
    },
}


def hparams_of(config: dict[str, Any]) -> dict[str, Any]:
    """The choices that define a run: experiment, model, aug, labels, optimizer, lr, ..."""
    choices = config.get("choices", {})
    data = config.get("data", {})
    scheduler = config.get("scheduler", {})
    labels = data.get("labels", "fer2013")
    if labels == "ferplus":
        labels = f"ferplus/{data.get('ferplus_scheme')}"
    # TensorBoard sorts hparams by name and shows the first five until others are ticked: the
    # numbers put the choices that define a run first, in this order.
    return {
        "1 experiment": str(choices.get("experiment") or "none"),
        "2 model": choices.get("model", ""),
        "3 aug": choices.get("aug", ""),
        "4 labels": labels,
        "5 optimizer": choices.get("optimizer", ""),
        "6 lr": float(config.get("optimizer", {}).get("lr", 0.0)),
        "7 scheduler": choices.get("scheduler", "") if scheduler.get("_target_") else "none",
        "8 batch_size": str(data.get("batch_size", "")),
        "9 max_epochs": str(config.get("trainer", {}).get("max_epochs", "")),
        "data": choices.get("data", ""),
        "seed": str(config.get("seed")),
    }


class HParams(L.Callback):
    """Registers the run with TensorBoard's HParams and Custom Scalars dashboards at fit start."""

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        params = hparams_of(pl_module.hparams.get("config") or {})
        # The experiment, session-start and session-end records alone: the metrics' values
        # come from the scalars the run logs under these names.
        records = hparams_summary(params, dict.fromkeys(METRICS, 0.0))
        for logger in tensorboards(trainer):
            writer = logger.experiment
            for record in records:
                writer._get_file_writer().add_summary(record)
            writer.add_custom_scalars(LAYOUT)
