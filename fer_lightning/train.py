"""Training entry point (`python -m fer_lightning`, `fer-train`): compose, build, fit, test."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerStatus
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from fer_lightning import runs
from fer_lightning.augment import build_augmentation
from fer_lightning.errors import Interrupted, UserError
from fer_lightning.loggers import ResumableCSVLogger
from fer_lightning.module import EmotionClassifier
from fer_lightning.precision import resolve_precision

log = logging.getLogger("fer_lightning")


def register_resolvers() -> None:
    """Config resolvers of the project; needed before Hydra composes the run folder's name."""
    # The run folder's name carries the process id: two runs started in the same second differ.
    OmegaConf.register_new_resolver("fer_pid", runs.pid, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("fer_run_dir", runs.run_dir, replace=True)
    OmegaConf.register_new_resolver("fer_hydra_subdir", runs.hydra_subdir, replace=True)


register_resolvers()

# Batches are gathered in-process from one tensor: loader workers would only add copying.
warnings.filterwarnings("ignore", ".*does not have many workers.*")
# Lightning 2.6 calls a pytree API that torch 2.14 deprecates; nothing for a user to act on.
warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\).*")


def instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a group of named configs (callbacks, loggers)."""
    if not group:
        return []
    return [instantiate(c) for c in group.values() if c is not None and "_target_" in c]


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
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_interval=interval,
        class_weights=class_weights(cfg.loss.class_weights, train_counts),
        label_smoothing=cfg.loss.label_smoothing,
        config=OmegaConf.to_container(cfg, resolve=True),
    )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit (and test) as configured; returns the final metrics by name (and the precision)."""
    output_dir = Path(cfg.paths.output_dir)
    if cfg.get("ckpt_path"):
        checkpoint = runs.resolve_checkpoint(cfg.ckpt_path, output_dir)
        cfg = runs.resume_config(cfg, checkpoint)
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
        runs.write_run_info(output_dir)

    augmentation = build_augmentation(cfg.aug, num_classes=cfg.model.num_classes)
    # Through a partial: instantiate would turn the Augmentation dataclass into a config node.
    datamodule = instantiate(cfg.data, _partial_=True)(augmentation=augmentation)
    datamodule.setup("fit")  # bad data ends the run now, not after an epoch
    if cfg.test:
        datamodule.dataset("test")
    module = build_module(cfg, datamodule.class_counts("train"))
    callbacks: list[Callback] = instantiate_all(cfg.get("callbacks"))
    precision = resolve_precision(cfg.trainer.get("precision"), cfg.trainer.get("accelerator"))
    loggers = instantiate_all(cfg.get("logger"))
    if cfg.get("ckpt_path"):  # rows logged after the checkpoint are logged again
        step = runs.checkpoint_step(cfg.ckpt_path)
        for logger in loggers:
            if isinstance(logger, ResumableCSVLogger) and rank_zero_only.rank == 0:
                logger.experiment.forget_from(step)
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, precision=precision
    )

    # Lightning unwraps a compiled module for checkpoints, so their keys stay the same.
    fit_module = torch.compile(module) if cfg.get("compile") else module
    started = time.perf_counter()
    try:
        trainer.fit(
            fit_module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True
        )
    except SystemExit as stop:
        # Lightning turns SIGTERM into SIGTERMException and Ctrl-C into sys.exit(1), both after
        # the callbacks' on_exception (SaveOnInterrupt). A scheduler must not read success (0)
        # or a crash (1) there: the shell's codes, 128 + the signal.
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        raise interrupted(stop, output_dir) from None
    metrics: dict[str, Any] = {k: float(v) for k, v in trainer.callback_metrics.items()}
    metrics["train_time_s"] = time.perf_counter() - started
    metrics["params"] = float(sum(p.numel() for p in module.net.parameters()))
    metrics["epochs"] = float(trainer.current_epoch)
    metrics["precision"] = str(trainer.precision)  # what `auto` chose on this machine
    checkpoint = next((c for c in callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
    if checkpoint is not None and checkpoint.best_model_score is not None:
        metrics["val/acc_best"] = float(checkpoint.best_model_score)

    if cfg.test:
        best = checkpoint.best_model_path if checkpoint is not None else ""
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


def interrupted(stop: SystemExit, output_dir: Path) -> Interrupted:
    """The one line and exit code of a run stopped by SIGTERM (143) or Ctrl-C (130)."""
    sigterm = isinstance(stop, SIGTERMException)
    last = output_dir / "checkpoints" / "last.ckpt"
    saved = f"saved {last}" if last.exists() else "no checkpoint was saved"
    return Interrupted(
        f"stopped by {'SIGTERM' if sigterm else 'Ctrl-C'}; {saved}; resume with: "
        f"python -m fer_lightning ckpt_path={last if last.exists() else 'last'}",
        143 if sigterm else 130,
    )


# Config choices that load a Hydra plugin from an optional extra: (plugin module, extra).
PLUGIN_CHOICES = {
    "hydra/launcher=slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "hydra/launcher=local": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "hparams_search=optuna": ("hydra_plugins.hydra_optuna_sweeper", "sweep"),
}


def check_plugins(argv: Sequence[str]) -> None:
    """One line, not Hydra's lookup failure, when a chosen config's plugin is not installed."""
    for arg in argv:
        module, extra = PLUGIN_CHOICES.get(arg.lstrip("+"), (None, None))
        if module and importlib.util.find_spec(module) is None:
            print(
                f"error: {arg} needs the [{extra}] extra: pip install 'fer_lightning[{extra}]'",
                file=sys.stderr,
            )
            raise SystemExit(2)


def check_quoting(argv: Sequence[str]) -> None:
    """One line for a value Hydra's override lexer cannot read: non-ASCII outside quotes.

    Hydra stops with a ``LexerNoViableAltException`` and a caret, which says nothing of the fix.
    """
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or arg.startswith("-") or value[:1] in ("'", '"') or value.isascii():
            continue
        print(
            f"error: {arg}: Hydra reads characters beyond ASCII only inside quotes: write "
            f"""'{key}="{value}"' (the single quotes keep the double ones from the shell)""",
            file=sys.stderr,
        )
        raise SystemExit(2)


def main() -> float | None:
    """The command line: ``python -m fer_lightning`` and ``fer-train``."""
    check_plugins(sys.argv[1:])
    check_quoting(sys.argv[1:])
    return run()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def run(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except Interrupted as stop:
        print(f"interrupted: {stop}", file=sys.stderr)
        raise SystemExit(stop.exit_code) from None
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
