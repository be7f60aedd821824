"""A killed run resumed with ckpt_path=last ends with the same weights as an uninterrupted one."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tests.test_train import run_cli

ARGS = [
    "data=synthetic",
    "data.synthetic_size=700",
    "data.batch_size=32",
    "model=emo1",
    "trainer=cpu",
    "trainer.max_epochs=3",
    "trainer.limit_val_batches=2",
    "test=false",
    "callbacks=minimal",
    "logger=none",
    "optimizer=sgd",
    "scheduler.step_size=1",
    "aug=standard",
    "aug.mixup_alpha=0.2",
]


def the_run(cwd: Path) -> Path:
    (run,) = (cwd / "outputs" / "train" / "runs").iterdir()
    return run


def start(cwd: Path, args: list[str]) -> subprocess.Popen:
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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(cwd.glob(path_glob))
        if found:
            return found[0]
        assert process.poll() is None, process.stdout.read()[-3000:]
        time.sleep(0.02)
    raise AssertionError(f"{path_glob} did not appear")


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(
        run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True
    )
    assert checkpoint["epoch"] == 2
    return checkpoint["state_dict"]


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir()
    killed.mkdir()
    assert run_cli(ARGS, cwd=whole).returncode == 0

    process = start(killed, ARGS)
    wait_for("outputs/train/runs/*/checkpoints/last.ckpt", killed, process)
    process.send_signal(signal.SIGKILL)  # no chance to clean up
    process.wait()
    run = the_run(killed)
    assert not (run / "final_metrics.json").exists()

    result = run_cli(["ckpt_path=last"], cwd=killed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert the_run(killed) == run  # continued in its own folder
    assert (run / "final_metrics.json").exists()
    expected, resumed = final_weights(the_run(whole)), final_weights(run)
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=0, atol=0)
