"""Run folders: a new one per run, the old one for a resumed run; what it takes to repeat one.

``ckpt_path=last`` resumes the newest run under ``outputs/<task>/runs`` that has a
``checkpoints/last.ckpt``; ``ckpt_path=<run>/checkpoints/<file>.ckpt`` resumes that run. Either
way the run continues in its own folder, with the config saved in its checkpoint (command-line
``key=value`` overrides still apply, e.g. more epochs), and Hydra's record of the resumed
launch goes to ``.hydra/resumed_<time>`` beside the original one.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from fer_lightning.runs.machine import cpu_name, native_bf16_cpu


def latest_run(runs_dir: Path) -> Path | None:
    """The most recently written run folder that can be resumed."""
    candidates = [p.parent.parent for p in runs_dir.glob("*/checkpoints/last.ckpt")]
    return max(
        candidates, key=lambda p: (p / "checkpoints/last.ckpt").stat().st_mtime, default=None
    )


def run_dir(runs_dir: str, new_name: str, task: str, ckpt_path: object) -> str:
    """The folder of this run: a new one, or the resumed run's own (a Hydra resolver).

    Only training resumes: evaluation, prediction and export read a checkpoint and write into
    a folder of their own.
    """
    if task == "train" and ckpt_path == "last":
        found = latest_run(Path(runs_dir))
        if found is not None:
            return str(found)
    elif task == "train" and isinstance(ckpt_path, str) and ckpt_path:
        path = Path(ckpt_path)
        if path.parent.name == "checkpoints" and (path.parent.parent / ".hydra").is_dir():
            return str(path.parent.parent)
    return f"{runs_dir}/{new_name}"


def hydra_subdir(task: str, ckpt_path: object, stamp: str) -> str:
    """Hydra's record of this launch: ``.hydra``, or beside it for a resumed training run."""
    return f".hydra/resumed_{stamp}" if task == "train" and ckpt_path else ".hydra"


def pid() -> int:
    return os.getpid()


def git_commit(path: Path) -> str | None:
    """The commit of the checkout ``path`` lies in ("+dirty" with local changes), if any."""
    try:
        run = functools.partial(
            subprocess.run, capture_output=True, text=True, timeout=10, cwd=path, check=True
        )
        commit = run(["git", "rev-parse", "HEAD"]).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def run_info() -> dict[str, object]:
    """What it takes to repeat a run: the command, the versions, the code's commit, the machine."""
    import torch

    versions = {"python": platform.python_version()}
    for package in (
        "fer_lightning",
        "torch",
        "torchvision",
        "lightning",
        "hydra-core",
        "omegaconf",
        "torchmetrics",
        "kornia",
        "numpy",
        "pandas",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "cwd": os.getcwd(),
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "versions": versions,
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "machine": {
            "host": platform.node(),
            "platform": platform.platform(),
            "cpu": cpu_name(),
            "native_bf16": native_bf16_cpu(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
    }


def write_run_info(output_dir: Path) -> Path:
    """``run_info.json`` beside Hydra's record of this launch (a resume gets its own)."""
    subdir = HydraConfig.get().output_subdir if HydraConfig.initialized() else None
    path = output_dir / (subdir or ".hydra") / "run_info.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run_info(), indent=2) + "\n")
    return path
