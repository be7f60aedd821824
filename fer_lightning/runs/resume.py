"""Resuming: the checkpoint ``ckpt_path`` names, the config the run resumes with, its log's step."""

from __future__ import annotations

import os
import re
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


# Keys of the built parts (callbacks, loggers, trainer) that name a folder to write into, and
# names joined onto one: a resumed run writes only inside its own run folder.
FOLDER_KEYS = {"dirpath", "save_dir", "output_dir", "root_dir", "log_dir", "default_root_dir"}
NAME_KEYS = {"filename", "name", "version", "sub_dir", "prefix"}
WRITING_SECTIONS = ("callbacks", "logger", "trainer")


def check_paths(config: dict[str, Any], output_dir: str, source: Path) -> None:
    """Refuse, in one line, a part of the saved config that would write outside the run."""
    root = os.path.normpath(output_dir)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                where = f"{path}.{key}"
                if isinstance(value, str) and key in FOLDER_KEYS:
                    target = os.path.normpath(os.path.join(root, os.path.expanduser(value)))
                    if target != root and not target.startswith(root + os.sep):
                        refuse(where, value, f"a folder outside the run folder {root}")
                elif isinstance(value, str) and key in NAME_KEYS:
                    if os.path.isabs(value) or ".." in Path(value).parts:
                        refuse(where, value, "a name that leaves its folder")
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    def refuse(key: str, value: str, what: str) -> None:
        raise UserError(
            f"{source}: refused: its config sets {key}={value!r}, {what}; a resumed run writes "
            f"only into its own folder (give {key}=... on the command line to choose)"
        )

    for section in WRITING_SECTIONS:
        walk(config.get(section), section)


# Options a resumed run can take up: how long it goes on, where the data is read, the machine
# it runs on. Anything else (optimizer.lr, model.*, the augmentation) is already in the saved
# weights and optimizer state, so a new value would be recorded but not happen.
RESUMABLE = re.compile(
    r"(trainer\.(max_epochs|max_steps|max_time|min_epochs|min_steps|accelerator|devices"
    r"|num_nodes|strategy|precision|enable_progress_bar|log_every_n_steps|limit_test_batches)"
    r"|data\.(path|ferplus_path|cache_dir|num_workers|pin_memory|on_device|eval_batch_size)"
    r"|callbacks\.progress_bar(\..*)?|test|compile|paths\..*|hydra[./].*)"
)


def check_overrides(overrides: list[str]) -> None:
    """Refuse command-line options a resumed run cannot take up, in one line."""
    changed_groups = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in GROUPS]
    if changed_groups:
        raise UserError(
            f"resuming keeps the run's config groups; {', '.join(changed_groups)} "
            "cannot change (override single values instead, e.g. "
            "trainer.max_epochs=60)"
        )
    fixed = [o for o in overrides if not RESUMABLE.fullmatch(o.split("=", 1)[0].lstrip("+~"))]
    if fixed:
        raise UserError(
            f"resuming continues the saved weights and optimizer state, so {fixed[0]} would "
            "not take effect: resume may change how long it trains (trainer.max_epochs, "
            "trainer.max_steps, trainer.max_time), the data's place (data.path) and the "
            "machine (trainer.accelerator, trainer.devices); start a new run for the rest"
        )


def resume_config(cfg: DictConfig, checkpoint: Path) -> DictConfig:
    """The checkpoint's own run config, with this command line's ``key=value`` overrides.

    Where it writes comes from this command, not the file: the run folder (a copy or a move
    included), ``paths.*`` and the data cache; the saved callbacks and loggers must write
    inside the run folder.
    """
    config = read_checkpoint(checkpoint)["hyper_parameters"]["config"]
    output_dir = str(cfg.paths.output_dir)
    config = moved_folder(config, output_dir)
    check_paths(config, output_dir, checkpoint)
    config["paths"] = OmegaConf.to_container(cfg.paths, resolve=True)
    if isinstance(config.get("data"), dict):
        config["data"]["cache_dir"] = config["paths"].get("cache_dir")
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("ckpt_path=")]
    check_overrides(overrides)
    saved = OmegaConf.create(config)
    resumed = OmegaConf.merge(saved, OmegaConf.from_dotlist([o.lstrip("+") for o in overrides]))
    resumed.ckpt_path = str(checkpoint)
    resumed.paths.output_dir = output_dir
    return resumed
