"""Commands run as a user types them, in a child process, and runs interrupted midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.helpers.runs import TINY_RUN


def run_cli(
    args: Sequence[str], cwd: Path, timeout: int = 600, module: str = "fer_lightning"
) -> subprocess.CompletedProcess:
    """A command as a user types it (``python -m <module> args``), in ``cwd``."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Whole epochs of 560 faces, long enough for a kill to land inside the run.
STOPPABLE_RUN = [
    *TINY_RUN,
    "data.synthetic_size=700",
    "data.batch_size=32",
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=null",
    "trainer.limit_val_batches=2",
    "test=false",
    "optimizer=sgd",
    "scheduler.step_size=1",
    "aug=standard",
    "aug.mixup_alpha=0.2",
]


def the_run(cwd: Path) -> Path:
    """The one run folder a training command started in ``cwd`` made."""
    (run,) = (cwd / "outputs" / "train" / "runs").iterdir()
    return run


def start(cwd: Path, args: list[str]) -> subprocess.Popen:
    """The training command started in the background, its output in one pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "fer_lightning", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A shell starts background jobs (`cmd &`, nohup, CI) with SIGINT ignored, and children
        # inherit that: give this one a terminal's Ctrl-C, as a user running it has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(path_glob: str, cwd: Path, process: subprocess.Popen, timeout: float = 300) -> Path:
    """The first file matching ``path_glob`` under ``cwd``, once the running process makes it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(cwd.glob(path_glob))
        if found:
            return found[0]
        assert process.poll() is None, process.stdout.read()[-3000:]
        time.sleep(0.02)
    raise AssertionError(f"{path_glob} did not appear")
