"""EmotionClassifier: the LightningModule that trains any network of ``conf/model``."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from fer_lightning.data.labels import EMOTIONS
from fer_lightning.models.averaging import average_probabilities

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]


def summary_metrics(num_classes: int, prefix: str) -> MetricCollection:
    """Accuracy and macro precision, recall and F1 (macro: every emotion counts the same)."""
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "precision": MulticlassPrecision(num_classes, average="macro"),
            "recall": MulticlassRecall(num_classes, average="macro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
        },
        prefix=f"{prefix}/",
    )


def per_class_metrics(num_classes: int) -> MetricCollection:
    return MetricCollection(
        {
            "precision": MulticlassPrecision(num_classes, average=None),
            "recall": MulticlassRecall(num_classes, average=None),
            "f1": MulticlassF1Score(num_classes, average=None),
        }
    )


class EmotionClassifier(L.LightningModule):
    """Cross-entropy training of ``net`` with torchmetrics for train, val and test.

    ``multilabel``: soft targets name accepted classes (FER+'s multi-label scheme) instead of a
    distribution to match. ``optimizer`` and ``scheduler`` are factories (Hydra partials) so the
    config chooses them without this class knowing which; ``config`` is the run's resolved
    config, kept in the checkpoint so evaluation can rebuild the run.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory | None,
        scheduler: SchedulerFactory | None = None,
        scheduler_monitor: str = "val/loss",
        scheduler_interval: str = "epoch",
        class_names: Sequence[str] | None = EMOTIONS,
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        multilabel: bool = False,
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.class_names = tuple(class_names or EMOTIONS)
        n = len(self.class_names)
        weight = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        self._epoch_start: float | None = None  # unset when a run resumes mid-epoch
        self.criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
        self.train_metrics = summary_metrics(n, "train")
        self.val_metrics = summary_metrics(n, "val")
        self.test_metrics = summary_metrics(n, "test")
        self.val_per_class = per_class_metrics(n)
        self.test_per_class = per_class_metrics(n)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _step(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
        """-> (loss, class probabilities, labels).

        A third batch item holds MixUp/CutMix soft targets for the loss. Five-dimensional input
        holds several views per face (ten-crop): their softmax is averaged, and the loss is the
        negative log-likelihood of that average.
        """
        x, y, *soft = batch
        if x.ndim == 5:
            probs = average_probabilities(self.net, x)
            loss = nn.functional.nll_loss(
                probs.clamp_min(1e-12).log(), y, weight=self.criterion.weight
            )
            return loss, probs, y
        logits = self(x)
        probs = logits.softmax(dim=-1)
        if soft and self.hparams.multilabel:
            # FER+'s multi-label loss: any emotion the votes accept counts as right, so only the
            # most probable of them is pulled up: -log max_k (accepted_k * p_k).
            best = (probs.float() * (soft[0] > 0)).amax(dim=-1)
            return -best.clamp_min(1e-12).log().mean(), probs, y
        return self.criterion(logits, soft[0] if soft else y), probs, y

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss, probs, y = self._step(batch)
        self.train_metrics(probs, y)
        # Epoch values under the split's name (train/loss beside val/loss); per-step values,
        # the learning rate among them, under step/ (the tag scheme: docs/runs.md).
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        self.log("step/train_loss", loss, on_step=True, on_epoch=False, prog_bar=True)
        if self.trainer.optimizers:
            lr = self.trainer.optimizers[0].param_groups[0]["lr"]
            self.log("step/lr", lr, on_step=True, on_epoch=False)
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        loss, probs, y = self._step(batch)
        self.val_metrics(probs, y)
        self.val_per_class.update(probs, y)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True)
        for name, metric in self.val_metrics.items():
            self.log(name, metric, on_epoch=True, prog_bar=name == "val/acc")
        # Callbacks (confusion matrix, PR curves, ...) read these in on_validation_batch_end.
        return {"probs": probs.detach(), "labels": y}

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        loss, probs, y = self._step(batch)
        self.test_metrics(probs, y)
        self.test_per_class.update(probs, y)
        self.log("test/loss", loss, on_epoch=True)
        self.log_dict(self.test_metrics, on_epoch=True)
        return {"probs": probs.detach(), "labels": y}

    def _log_per_class(self, metrics: MetricCollection, prefix: str) -> None:
        for name, values in metrics.compute().items():
            for cls, value in zip(self.class_names, values, strict=True):
                self.log(f"{prefix}/{name}/{cls}", value)
        metrics.reset()

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        # Training time of the epoch alone (validation excluded), for speed comparisons.
        if self._epoch_start is not None:
            self.log("train/epoch_seconds", time.perf_counter() - self._epoch_start)

    def on_validation_epoch_end(self) -> None:
        self._log_per_class(self.val_per_class, "val")

    def on_test_epoch_end(self) -> None:
        self._log_per_class(self.test_per_class, "test")

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise RuntimeError("EmotionClassifier was built without an optimizer (inference only)")
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        kwargs = {}
        if needs_total_steps(self.scheduler_factory):  # one-cycle: the run's length in steps
            kwargs["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer=optimizer, **kwargs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "monitor": self.hparams.scheduler_monitor,
                "interval": self.hparams.scheduler_interval,
            },
        }


def needs_total_steps(factory: SchedulerFactory) -> bool:
    """True for a partial of a scheduler such as OneCycleLR whose total_steps was left open."""
    if not isinstance(factory, functools.partial) or "total_steps" in factory.keywords:
        return False
    return "total_steps" in inspect.signature(factory.func).parameters
