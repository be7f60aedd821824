"""A multirun's failed jobs: each says why as it fails, the sweep goes on, its end lists them.

Hydra's launcher runs a sweep's jobs one after the other; a job that exits (a user's mistake ends
a command with ``SystemExit(2)``) ended the whole sweep, and a job's exception came back as a
traceback once the batch was done. Here a job that fails prints its one line (a bug: its
traceback, into the job's log too), writes it into its folder as ``job_failed.txt`` and returns,
so the next job runs. ``ListFailedJobs``, a Hydra callback of every command (conf/hydra), lists
the failed jobs when the sweep ends and sets the exit code: 2 when each failure was a user's
mistake, 1 when one was a bug. The record lies in the job's folder, so jobs that a launcher
started in other processes (submitit) are listed too. A signal still stops the whole sweep.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from fer_lightning.errors import Interrupted, UserError

log = logging.getLogger("fer_lightning")

FAILED = "job_failed.txt"

Result = TypeVar("Result")


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_job(task: Callable[[DictConfig], Result], cfg: DictConfig) -> Result | None:
    """``task(cfg)`` as a job of a sweep: a failure is recorded in the job's folder, not raised."""
    try:
        return task(cfg)
    except Interrupted:
        raise
    except UserError as error:
        line = f"error: {error}"
        print(line, file=sys.stderr)
    except Exception as error:
        log.exception("job %s crashed", HydraConfig.get().job.num)
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        line = f"crashed: {type(error).__name__}: {first}".rstrip(": ")
    (Path(HydraConfig.get().runtime.output_dir) / FAILED).write_text(line + "\n")
    return None


def job_overrides(job: Path, common: list[str]) -> str:
    """What set this job apart: its overrides that not every job of the sweep has."""
    path = job / ".hydra" / "overrides.yaml"
    overrides = list(OmegaConf.load(path)) if path.is_file() else []
    return " ".join(o for o in overrides if o not in common) or " ".join(overrides)


class ListFailedJobs(Callback):
    """At a multirun's end: its failed jobs, one line each, and a non-zero exit."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        jobs = sorted((p for p in sweep.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
        failed = [(j, (j / FAILED).read_text().strip()) for j in jobs if (j / FAILED).is_file()]
        if not failed:
            return
        common = [str(o) for o in config.hydra.overrides.task]
        print(f"error: {len(failed)} of {len(jobs)} jobs failed:", file=sys.stderr)
        for job, line in failed:
            print(f"  job {job.name} ({job_overrides(job, common)}): {line}", file=sys.stderr)
        raise SystemExit(1 if any(line.startswith("crashed:") for _, line in failed) else 2)
