"""The report's train-vs-validation loss plot (and accuracy beside it), rewritten every epoch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib.pyplot as plt
from lightning.pytorch.utilities import rank_zero_only

from fer_lightning.plots.files import save_figure

SERIES = {"loss": ("train/loss", "val/loss"), "accuracy": ("train/acc", "val/acc")}


class LossCurves(L.Callback):
    """``curves.png`` in the run folder after every epoch, so a killed run keeps its curve.

    The history is part of the callback's checkpoint state: a resumed run continues its curve.
    """

    def __init__(self, output_dir: str) -> None:
        self.output_dir = Path(output_dir)
        self.history: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # At a callback's train-epoch end both the epoch's training and validation metrics exist.
        metrics = trainer.callback_metrics
        row = {"epoch": float(trainer.current_epoch + 1)}
        for train_key, val_key in SERIES.values():
            for key in (train_key, val_key):
                row[key] = float(metrics[key]) if key in metrics else math.nan
        self.history = [r for r in self.history if r["epoch"] != row["epoch"]] + [row]
        self.plot()

    @rank_zero_only
    def plot(self) -> None:
        epochs = [r["epoch"] for r in self.history]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for ax, (title, keys) in zip(axes, SERIES.items(), strict=True):
            for key, label in zip(keys, ("train", "validation"), strict=True):
                ax.plot(
                    epochs, [r[key] for r in self.history], marker="o", markersize=3, label=label
                )
            ax.set_xlabel("epoch")
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        save_figure(fig, self.output_dir / "curves.png")
        plt.close(fig)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
