"""The report's train-vs-validation loss plot (and accuracy beside it), rewritten every epoch.

The report's figures 3b-8b plot train against *test* loss per epoch. ``test_every_epoch``
offers that curve without tuning on the test rows: the test split is evaluated after each
epoch for this plot only. Its values go to the loggers as ``plot_only/test_*`` and never into
Lightning's metrics, so no checkpoint, early stop or schedule can see them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib.pyplot as plt
import torch
from lightning.pytorch.utilities import rank_zero_only

from fer_lightning.callbacks.shared import scalar_step
from fer_lightning.plots.files import save_figure

SERIES = {"loss": ("train/loss", "val/loss"), "accuracy": ("train/acc", "val/acc")}
TEST = {"loss": "plot_only/test_loss", "accuracy": "plot_only/test_acc"}
# Names the history of checkpoints written by earlier versions uses.
RENAMED = {"train/loss_epoch": "train/loss"}


@torch.no_grad()
def test_loss_and_accuracy(trainer: L.Trainer, pl_module: L.LightningModule) -> tuple[float, float]:
    """The test split through the network as the test loop sees it (eval mode, no augmentation)."""
    dm = trainer.datamodule
    was_training = pl_module.training
    pl_module.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        with trainer.precision_plugin.forward_context():
            for images, labels in dm.test_dataloader():
                images, labels = images.to(pl_module.device), labels.to(pl_module.device)
                x, y, _ = dm.preprocess(images, labels, train=False)
                loss, probs, y = pl_module._step((x, y))
                total_loss += float(loss) * len(y)
                correct += int((probs.argmax(dim=-1) == y).sum())
                count += len(y)
    finally:
        pl_module.train(was_training)
    return total_loss / max(count, 1), correct / max(count, 1)


class LossCurves(L.Callback):
    """``curves.png`` in the run folder after every epoch, so a killed run keeps its curve.

    The history is part of the callback's checkpoint state: a resumed run continues its curve.
    """

    def __init__(self, output_dir: str, test_every_epoch: bool = False) -> None:
        self.output_dir = Path(output_dir)
        self.test_every_epoch = test_every_epoch
        self.history: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # At a callback's train-epoch end both the epoch's training and validation metrics exist.
        metrics = trainer.callback_metrics
        row = {"epoch": float(trainer.current_epoch + 1)}
        for train_key, val_key in SERIES.values():
            for key in (train_key, val_key):
                row[key] = float(metrics[key]) if key in metrics else math.nan
        if self.test_every_epoch and hasattr(trainer.datamodule, "test_dataloader"):
            loss, acc = test_loss_and_accuracy(trainer, pl_module)
            row[TEST["loss"]], row[TEST["accuracy"]] = loss, acc
            values = {TEST["loss"]: loss, TEST["accuracy"]: acc, "epoch": trainer.current_epoch}
            for logger in trainer.loggers:  # past Lightning's metrics: nothing monitors these
                logger.log_metrics(values, scalar_step(trainer))
        self.history = [r for r in self.history if r["epoch"] != row["epoch"]] + [row]
        self.plot()

    @rank_zero_only
    def plot(self) -> None:
        epochs = [r["epoch"] for r in self.history]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for ax, (title, keys) in zip(axes, SERIES.items(), strict=True):
            lines = [*zip(keys, ("train", "validation"), strict=True)]
            if any(TEST[title] in r for r in self.history):
                lines.append((TEST[title], "test (for this plot only)"))
            for key, label in lines:
                values = [r.get(key, math.nan) for r in self.history]
                ax.plot(epochs, values, marker="o", markersize=3, label=label)
            ax.set_xlabel("epoch")
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend()
        if any(TEST["loss"] in r for r in self.history):
            fig.suptitle(
                "The test split is evaluated each epoch for this plot only; checkpoints and "
                "schedules use validation",
                fontsize=9,
            )
        fig.tight_layout()
        save_figure(fig, self.output_dir / "curves.png")
        plt.close(fig)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # A run begun by an earlier version keeps its first epochs' points under today's names.
        self.history = [
            {RENAMED.get(k, k): v for k, v in row.items()} for row in state_dict.get("history", [])
        ]
