"""`python -m fer_lightning.eval ckpt_path=PATH` (`fer-eval`): test a checkpoint, or an ensemble.

The model and data are rebuilt from the run config stored in the checkpoint (``data.*`` can
override where and how the data is read); test-time augmentation averages the softmax of the
views. Writes ``metrics.json`` (and what the configured callbacks write) into its run folder.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import Tensor, nn

from fer_lightning.augment import build_augmentation
from fer_lightning.checkpoints import load_classifier
from fer_lightning.errors import UserError
from fer_lightning.module import EmotionClassifier
from fer_lightning.precision import resolve_precision
from fer_lightning.train import instantiate_all, register_resolvers

log = logging.getLogger("fer_lightning")
register_resolvers()


class Ensemble(nn.Module):
    """Averages the members' probabilities; returns their log, which softmax maps back."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> Tensor:
        probs = torch.stack([m(x).softmax(dim=-1) for m in self.members]).mean(dim=0)
        return probs.clamp_min(1e-12).log()


def checkpoint_paths(option: Any) -> list[str]:
    if option is None:
        raise UserError(
            "ckpt_path is not set: ckpt_path=outputs/train/runs/<run>/checkpoints/"
            "last.ckpt (or a list [a.ckpt,b.ckpt] for an ensemble)"
        )
    return [str(p) for p in option] if isinstance(option, ListConfig | list) else [str(option)]


def load_models(paths: Sequence[str]) -> tuple[EmotionClassifier, DictConfig]:
    """One classifier, or an ensemble of several that share an input format."""
    loaded = [load_classifier(p) for p in paths]
    module, config = loaded[0]
    if len(loaded) == 1:
        return module, config
    for path, (_, other) in zip(paths[1:], loaded[1:], strict=True):
        for key in ("model.input_size", "model.in_channels", "data.mean", "data.std"):
            if OmegaConf.select(other, key) != OmegaConf.select(config, key):
                raise UserError(
                    f"{path}: {key} differs from {paths[0]}'s; an ensemble needs one input format"
                )
    net = Ensemble([m.net for m, _ in loaded])
    return EmotionClassifier(net=net, optimizer=None, class_names=module.class_names), config


def evaluate(cfg: DictConfig) -> dict[str, float]:
    paths = checkpoint_paths(cfg.ckpt_path)
    module, run_cfg = load_models(paths)
    L.seed_everything(cfg.seed)
    overrides = {k: v for k, v in OmegaConf.to_container(cfg.data).items() if v is not None}
    data_cfg = OmegaConf.merge(run_cfg.data, overrides)
    augmentation = build_augmentation(run_cfg.aug, run_cfg.model.num_classes, tta=cfg.tta)
    datamodule = instantiate(data_cfg, _partial_=True)(augmentation=augmentation)
    if cfg.split not in ("test", "val"):
        raise UserError(f"split={cfg.split!r} is unknown: use split=test or split=val")
    datamodule.test_split = cfg.split  # the test loop reads this split
    datamodule.setup("test")
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=instantiate_all(cfg.get("callbacks")),
        precision=resolve_precision(
            cfg.trainer.get("precision") or OmegaConf.select(run_cfg, "trainer.precision"),
            cfg.trainer.get("accelerator"),
        ),
    )
    trainer.test(module, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    output_dir = Path(cfg.paths.output_dir)
    result = {"checkpoints": paths, "split": cfg.split, "tta": augmentation.tta, "metrics": metrics}
    (output_dir / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info(
        "%s accuracy %.4f (macro F1 %.4f) -> %s",
        cfg.split,
        metrics.get("test/acc", 0.0),
        metrics.get("test/f1", 0.0),
        output_dir,
    )
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> float | None:
    try:
        return evaluate(cfg).get("test/acc")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
