"""`python -m fer_lightning.eval ckpt_path=PATH` (`fer-eval`): test a checkpoint, an ensemble,
or (without ckpt_path) the shipped model ``pretrained`` names on your copy of the data.

The model and data are rebuilt from the run config stored in the checkpoint (``data.*`` can
override where and how the data is read); test-time augmentation averages the softmax of the
views. Writes ``metrics.json`` (and what the configured callbacks write) into its run folder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from fer_lightning.cli import command
from fer_lightning.config import instantiate_all
from fer_lightning.errors import UserError
from fer_lightning.inference.classifier import Classifier
from fer_lightning.training.interrupts import signal_stops
from fer_lightning.training.precision import resolve_precision
from fer_lightning.training.trainer_build import build_trainer

log = logging.getLogger("fer_lightning")

STOPPED = (
    "nothing written (metrics.json needs the whole split): evaluate again with the same command"
)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test the checkpoint(s) on ``cfg.split``; returns the metrics by name."""
    if cfg.split not in ("test", "val"):
        raise UserError(f"split={cfg.split!r} is unknown: use split=test or split=val")
    overrides = {
        k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items() if v is not None
    }
    classifier = Classifier(
        cfg.ckpt_path, tta=cfg.tta, device="cpu", data=overrides, pretrained=cfg.get("pretrained")
    )
    L.seed_everything(cfg.seed)
    run_cfg = classifier.config
    datamodule = classifier.datamodule
    datamodule.test_split = cfg.split  # the test loop reads this split
    datamodule.setup("test")
    trainer = build_trainer(
        cfg.trainer,
        callbacks=instantiate_all(cfg.get("callbacks")),
        precision=resolve_precision(
            cfg.trainer.get("precision") or OmegaConf.select(run_cfg, "trainer.precision"),
            cfg.trainer.get("accelerator"),
        ),
    )
    # A signal leaves no metrics.json: the metrics of part of a split would read as the whole.
    with signal_stops(trainer, lambda signal: f"stopped by {signal}; {STOPPED}"):
        trainer.test(classifier.module, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    output_dir = Path(cfg.paths.output_dir)
    result = {
        "checkpoints": classifier.paths,
        "split": cfg.split,
        "tta": classifier.augmentation.tta,
        "metrics": metrics,
    }
    (output_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info(
        "%s accuracy %.4f (macro F1 %.4f) -> %s",
        cfg.split,
        metrics.get("test/acc", 0.0),
        metrics.get("test/f1", 0.0),
        output_dir,
    )
    return metrics


def task(cfg: DictConfig) -> float | None:
    return evaluate(cfg).get("test/acc")


main = command("eval")(task)

if __name__ == "__main__":
    main()
