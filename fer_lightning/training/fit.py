"""Training: build the module, the trainer and the data from a run config; fit, then test.

Bad data or options end the run before the first step, in one line; a run stopped by a signal
leaves ``last.ckpt`` and says how to resume it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, Timer
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from fer_lightning.callbacks.moved_run import MovedRun
from fer_lightning.config import instantiate_all
from fer_lightning.data.datamodule import datamodule_from_config
from fer_lightning.data.labels import LABEL_SETS
from fer_lightning.errors import UserError
from fer_lightning.runs import folders, resume
from fer_lightning.training.checkpoint_io import with_checked_saves
from fer_lightning.training.interrupts import signal_stops
from fer_lightning.training.loggers import ResumableCSVLogger
from fer_lightning.training.module import EmotionClassifier
from fer_lightning.training.precision import resolve_precision
from fer_lightning.training.trainer_build import build_trainer

log = logging.getLogger("fer_lightning")


def class_weights(option: Any, train_counts: list[int]) -> list[float] | None:
    """``loss.class_weights``: null, ``auto`` (inverse class frequency) or one weight per class."""
    if option is None:
        return None
    if option == "auto":
        total, k = sum(train_counts), len(train_counts)
        return [total / (k * c) if c else 0.0 for c in train_counts]
    weights = [float(w) for w in option]
    if len(weights) != len(train_counts):
        raise UserError(
            f"loss.class_weights has {len(weights)} values; give one per class "
            f"({len(train_counts)}), or auto"
        )
    return weights


def build_module(cfg: DictConfig, train_counts: list[int]) -> EmotionClassifier:
    scheduler, interval = None, "epoch"
    if cfg.scheduler.get("_target_"):
        # `interval` (epoch or step) is Lightning's, not the scheduler's: kept out of its call.
        spec = OmegaConf.to_container(cfg.scheduler, resolve=True)
        interval = spec.pop("interval", "epoch")
        if interval not in ("epoch", "step"):
            raise UserError(f"scheduler.interval={interval!r} is unknown: use epoch or step")
        scheduler = instantiate(spec)
    optimizer = instantiate(cfg.optimizer)
    try:  # a bad value (optimizer.lr=abc) fails here, in one line, not inside fit
        optimizer(params=[torch.nn.Parameter(torch.zeros(1))])
    except (TypeError, ValueError) as error:
        raise UserError(
            f"optimizer {cfg.optimizer._target_} refuses its options ({error}): check "
            "optimizer.* (e.g. optimizer.lr=1e-3)"
        ) from None
    net = instantiate(cfg.model)
    if cfg.get("channels_last"):
        net = net.to(memory_format=torch.channels_last)
    return EmotionClassifier(
        net=net,
        class_names=LABEL_SETS[cfg.data.get("labels", "fer2013")],
        multilabel=cfg.data.get("ferplus_scheme") == "multilabel"
        and cfg.data.get("labels") == "ferplus",
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval=interval,
        class_weights=class_weights(cfg.loss.class_weights, train_counts),
        label_smoothing=cfg.loss.label_smoothing,
        config=run_config(cfg),
    )


def run_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config kept in checkpoints, with the config-group choices that made it.

    The choices (model=emo5, aug=colorjitter, ...) name a run in reports and TensorBoard's
    HParams; Hydra knows them only while it runs, so they are copied in once. A resumed run
    keeps the choices of the run it continues.
    """
    config = OmegaConf.to_container(cfg, resolve=True)
    if "choices" not in config and HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
        config["choices"] = {k: v for k, v in choices.items() if not k.startswith("hydra")}
    return config


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit (and test) as configured; returns the final metrics by name (and the precision)."""
    output_dir = Path(cfg.paths.output_dir)
    if cfg.get("ckpt_path"):
        checkpoint = resume.resolve_checkpoint(cfg.ckpt_path, output_dir)
        cfg = resume.resume_config(cfg, checkpoint)
        log.info("Resuming %s", checkpoint)
    if cfg.trainer.get("max_epochs") == 0 or cfg.trainer.get("max_steps") == 0:
        raise UserError(
            "trainer.max_epochs=0 (or max_steps=0) trains nothing, and the test would judge an "
            "untrained network: give at least 1 (evaluate a checkpoint with fer_lightning.eval)"
        )
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    log.info("Run folder: %s", output_dir)
    if rank_zero_only.rank == 0:
        folders.write_run_info(output_dir)

    classes = LABEL_SETS.get(cfg.data.get("labels", "fer2013"))
    if classes is not None and cfg.model.num_classes != len(classes):
        # The data decides the classes (8 with data.labels=ferplus); the saved config says so.
        log.info(
            "model.num_classes=%d: the classes of data.labels=%s", len(classes), cfg.data.labels
        )
        with open_dict(cfg):
            cfg.model.num_classes = len(classes)
    datamodule = datamodule_from_config(cfg.data, cfg.aug, cfg.model.num_classes)
    datamodule.setup("fit")  # bad data ends the run now, not after an epoch
    if cfg.test:
        datamodule.dataset("test")
    module = build_module(cfg, datamodule.class_counts("train"))
    callbacks: list[Callback] = instantiate_all(cfg.get("callbacks"))
    # The fit loop's time summed over every process of the run: Lightning's Timer keeps its
    # elapsed time in the checkpoint, so a resumed run reports its whole training time.
    # Lightning ignores trainer.max_time when the callbacks hold a Timer, so this one enforces it.
    max_time = cfg.trainer.get("max_time")
    timer = next((c for c in callbacks if isinstance(c, Timer)), None)
    if timer is None:
        timer = Timer(duration=max_time, interval="step")
        callbacks.append(timer)
    elif max_time is not None:
        raise UserError(
            "trainer.max_time and a Timer in callbacks both limit the time: set the Timer's "
            "duration instead of trainer.max_time"
        )
    precision = resolve_precision(cfg.trainer.get("precision"), cfg.trainer.get("accelerator"))
    loggers = instantiate_all(cfg.get("logger"))
    if cfg.get("ckpt_path"):  # rows logged after the checkpoint are logged again
        callbacks.append(MovedRun(str(output_dir)))  # a copied or moved run keeps to its folder
        step = resume.checkpoint_step(cfg.ckpt_path)
        for logger in loggers:
            if isinstance(logger, ResumableCSVLogger) and rank_zero_only.rank == 0:
                logger.experiment.forget_from(step)
    trainer = build_trainer(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        precision=precision,
        max_time=None,  # enforced by the Timer above
        # Every save is checked on disk: Lightning's own writer swallows a refused one.
        plugins=with_checked_saves(cfg.trainer.get("plugins")),
    )

    # Lightning unwraps a compiled module for checkpoints, so their keys stay the same.
    fit_module = torch.compile(module) if cfg.get("compile") else module
    # A signal saves last.ckpt first (the callbacks' SaveOnInterrupt), then ends in one line.
    with signal_stops(trainer, lambda signal: interrupted(signal, output_dir)):
        trainer.fit(
            fit_module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True
        )
    metrics: dict[str, Any] = {k: float(v) for k, v in trainer.callback_metrics.items()}
    metrics["train_time_s"] = timer.time_elapsed("train")
    metrics["params"] = float(sum(p.numel() for p in module.net.parameters()))
    metrics["epochs"] = float(trainer.current_epoch)
    metrics["precision"] = str(trainer.precision)  # what `auto` chose on this machine
    checkpoint = next((c for c in callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
    if checkpoint is not None and checkpoint.best_model_score is not None:
        metrics["val/acc_best"] = float(checkpoint.best_model_score)

    if cfg.test:
        best = checkpoint.best_model_path if checkpoint is not None else ""
        with signal_stops(trainer, lambda signal: interrupted(signal, output_dir, "the test")):
            trainer.test(module, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
        metrics.update(
            {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        )

    if trainer.is_global_zero:
        (output_dir / "final_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        shown = ", ".join(
            f"{k} {metrics[k]:.4f}" for k in ("val/acc_best", "test/acc") if k in metrics
        )
        log.info("Done: %s", shown or "no metrics (fast_dev_run)")
        log.info("Results in %s (TensorBoard: tensorboard --logdir %s)", output_dir, output_dir)
    return metrics


def interrupted(signal: str, output_dir: Path, during: str = "") -> str:
    """The line of a run stopped by a signal: what is saved and the command that goes on.

    A resume of a run whose fit was done restores its last epoch and goes on to the test.
    """
    last = output_dir / "checkpoints" / "last.ckpt"
    saved = f"saved {last}" if last.exists() else "no checkpoint was saved"
    return (
        f"stopped by {signal}{f' during {during}' if during else ''}; {saved}; resume with: "
        f"python -m fer_lightning ckpt_path={last if last.exists() else 'last'}"
    )
