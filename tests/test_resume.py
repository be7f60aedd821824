"""A killed run resumed with ckpt_path=last ends with the same weights as an uninterrupted one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
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


def test_sigterm_saves_a_checkpoint_exits_143_and_the_run_resumes(tmp_path):
    """A scheduler reads the exit status: 143 (128 + SIGTERM), not 0, and no final metrics."""
    process = start(tmp_path, [*ARGS, "trainer.max_epochs=4", "logger=default"])
    wait_for("outputs/train/runs/*/checkpoints/last.ckpt", tmp_path, process)  # epoch 1 done
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 143, output[-3000:]
    assert "Interrupted: saved" in output, output[-3000:]
    (line,) = [x for x in output.splitlines() if x.startswith("interrupted:")]
    assert "stopped by SIGTERM; saved " in line and "ckpt_path=" in line
    run = the_run(tmp_path)
    assert not (run / "final_metrics.json").exists()
    assert (run / "checkpoints" / "last.ckpt").exists()
    rows_before = pd.read_csv(run / "csv" / "metrics.csv")
    assert len(rows_before.dropna(subset=["val/acc"])) >= 1  # on disk with the checkpoint
    result = run_cli(["ckpt_path=last"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "final_metrics.json").exists()
    assert os.listdir(run / ".hydra")  # the original launch record is kept
    # Every epoch's validation row exactly once, those before the interruption included.
    rows = pd.read_csv(run / "csv" / "metrics.csv")
    assert rows.dropna(subset=["val/acc"])["epoch"].tolist() == [0, 1, 2, 3]
    before = rows_before.dropna(subset=["val/acc"])
    kept = rows.set_index("epoch").loc[before["epoch"], "val/acc"].dropna()
    assert kept.tolist() == pytest.approx(before["val/acc"].tolist())
    assert not rows.dropna(subset=["train/loss_step"]).duplicated(subset=["step"]).any()


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    process = start(tmp_path, [*ARGS, "trainer.max_epochs=4"])
    wait_for("outputs/train/runs/*/checkpoints/last.ckpt", tmp_path, process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    assert "interrupted: stopped by Ctrl-C; saved " in output, output[-3000:]
    assert not (the_run(tmp_path) / "final_metrics.json").exists()
