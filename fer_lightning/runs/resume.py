"""Resuming: the checkpoint ``ckpt_path`` names, the config the run resumes with, its log's step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from fer_lightning.errors import UserError
from fer_lightning.runs.checkpoints import read_checkpoint

# Config groups a resumed run keeps: another model or data set would be another run.
GROUPS = (
    "data",
    "model",
    "aug",
    "optimizer",
    "scheduler",
    "trainer",
    "callbacks",
    "logger",
    "paths",
    "hydra",
    "experiment",
)


def resolve_checkpoint(option: str, output_dir: Path) -> Path:
    if option == "last":
        path = output_dir / "checkpoints" / "last.ckpt"
        if not path.exists():
            raise UserError(
                f"ckpt_path=last: no run with checkpoints/last.ckpt under "
                f"{output_dir.parent}; pass ckpt_path=<run>/checkpoints/last.ckpt"
            )
        return path
    return Path(option).expanduser()


def checkpoint_step(checkpoint: str | Path) -> int:
    """The optimizer steps a checkpoint had taken (where a resumed run's logging starts)."""
    return int(read_checkpoint(checkpoint).get("global_step", 0))


def moved_folder(config: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """The saved config with its run folder's paths pointing at ``output_dir``.

    A saved config holds its run folder resolved (checkpoints, logs, pictures); a run folder
    that was copied or moved and then resumed would otherwise write into the old one.
    """
    old = str((config.get("paths") or {}).get("output_dir") or "")
    if not old or old == output_dir:
        return config

    def rebase(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: rebase(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rebase(v) for v in node]
        if isinstance(node, str) and (node == old or node.startswith(old + "/")):
            return output_dir + node[len(old) :]
        return node

    return rebase(config)


def resume_config(cfg: DictConfig, checkpoint: Path) -> DictConfig:
    """The checkpoint's own run config, with this command line's ``key=value`` overrides."""
    config = read_checkpoint(checkpoint)["hyper_parameters"]["config"]
    saved = OmegaConf.create(moved_folder(config, cfg.paths.output_dir))
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    changed_groups = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in GROUPS]
    if changed_groups:
        raise UserError(
            f"resuming keeps the run's config groups; {', '.join(changed_groups)} "
            "cannot change (override single values instead, e.g. "
            "trainer.max_epochs=60)"
        )
    resumed = OmegaConf.merge(saved, OmegaConf.from_dotlist([o.lstrip("+") for o in overrides]))
    resumed.ckpt_path = str(checkpoint)
    resumed.paths.output_dir = cfg.paths.output_dir
    return resumed
