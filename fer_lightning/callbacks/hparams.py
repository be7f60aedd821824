"""The run's key choices and final metrics in TensorBoard's HParams dashboard."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from fer_lightning.callbacks.shared import tensorboards

RESULTS = ("hp/val_acc_best", "hp/test_acc", "hp/test_f1")


def hparams_of(config: dict[str, Any]) -> dict[str, Any]:
    """The choices a sweep varies: model, aug, optimizer, lr, scheduler, batch, epochs, split."""
    choices = config.get("choices", {})
    data = config.get("data", {})
    scheduler = config.get("scheduler", {})
    return {
        "model": choices.get("model", ""),
        "aug": choices.get("aug", ""),
        "optimizer": choices.get("optimizer", ""),
        "lr": float(config.get("optimizer", {}).get("lr", 0.0)),
        "weight_decay": float(config.get("optimizer", {}).get("weight_decay", 0.0)),
        "scheduler": choices.get("scheduler", "") if scheduler.get("_target_") else "none",
        "batch_size": int(data.get("batch_size", 0)),
        "max_epochs": int(config.get("trainer", {}).get("max_epochs", 0)),
        "split": str(data.get("split", "")),
        "data": choices.get("data", ""),
        "seed": int(config.get("seed") or 0),
    }


class HParams(L.Callback):
    """Registers the hyperparameters with placeholders for the results, then fills them in."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        params = hparams_of(pl_module.hparams.get("config") or {})
        for logger in tensorboards(trainer):
            logger.log_hyperparams(params, dict.fromkeys(RESULTS, 0.0))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        checkpoint = trainer.checkpoint_callback
        best = None
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_score is not None:
            best = float(checkpoint.best_model_score)
        elif "val/acc" in trainer.callback_metrics:
            best = float(trainer.callback_metrics["val/acc"])
        if best is not None:
            for logger in tensorboards(trainer):
                logger.log_metrics({"hp/val_acc_best": best}, step=trainer.global_step)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        values = {
            f"hp/test_{k}": float(metrics[f"test/{k}"])
            for k in ("acc", "f1")
            if f"test/{k}" in metrics
        }
        for logger in tensorboards(trainer):
            logger.log_metrics(values, step=trainer.global_step)
