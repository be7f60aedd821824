"""A run folder that cannot be written is refused in one line before Hydra writes into it.

Hydra opens the run's log and writes its record of the launch (``.hydra/``) before the command
starts: in a read-only folder (a resumed run's, or ``outputs/``) that was a traceback. The run
folder is only known once Hydra has composed the config, so the check is a Hydra callback of
every command (conf/hydra): before a run, its folder and what a resume writes into it; before a
multirun, the folder its jobs go into.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from fer_lightning.cli import one_line_errors
from fer_lightning.errors import UserError


def can_write(path: Path) -> bool:
    """Whether this process may write ``path`` (its effective rights, where the system has them)."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.W_OK, effective_ids=effective)


def unwritable(folder: Path) -> Path | None:
    """The first path under ``folder`` a run cannot write, or where it cannot create it."""
    if not folder.exists():
        parent = next(p for p in folder.parents if p.exists())
        return None if can_write(parent) else parent
    # A resume appends to its log files and replaces what it drew: every entry is written.
    for path in (folder, *sorted(folder.rglob("*"))):
        if not can_write(path):
            return path
    return None


def check_writable(folder: Path, what: str) -> None:
    """``UserError`` naming the path that ``what`` (e.g. "a run") cannot write, and the fix."""
    folder = folder.absolute()
    blocked = unwritable(folder)
    if blocked is None:
        return
    if folder.exists():  # an existing folder is a resumed run's own
        raise UserError(
            f"{blocked} cannot be written, and resuming writes into the run folder {folder}: "
            f"make it writable (chmod -R u+w {folder}), or copy the run folder and resume the "
            "copy (ckpt_path=<copy>/checkpoints/last.ckpt)"
        )
    raise UserError(
        f"{blocked} cannot be written, and {what} creates {folder} in it: make it writable, or "
        "write elsewhere (paths.log_dir=DIR)"
    )


class CheckRunFolder(Callback):
    """Hydra's callback: refuse a run (or multirun) whose folder cannot be written."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        # The folder's name reads Hydra's choices (run_name: the model): Hydra's config is set
        # here as the run's job sets it next, on the same config.
        HydraConfig.instance().set_config(config)
        with one_line_errors():
            check_writable(Path(config.hydra.run.dir), "a run")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)
        with one_line_errors():
            check_writable(Path(config.hydra.sweep.dir), "a multirun")
