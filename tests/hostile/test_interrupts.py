"""Interrupted runs: the exit status a scheduler reads, the resume line, no lost log rows."""

import os
import signal

import pandas as pd
import pytest

from tests.conftest import run_cli
from tests.test_resume import ARGS, start, the_run, wait_for


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
    rows_before = pd.read_csv(run / "metrics.csv")
    assert len(rows_before.dropna(subset=["val/acc"])) >= 1  # on disk with the checkpoint
    result = run_cli(["ckpt_path=last"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "final_metrics.json").exists()
    assert os.listdir(run / ".hydra")  # the original launch record is kept
    # Every epoch's validation row exactly once, those before the interruption included.
    rows = pd.read_csv(run / "metrics.csv")
    assert rows.dropna(subset=["val/acc"])["epoch"].tolist() == [0, 1, 2, 3]
    before = rows_before.dropna(subset=["val/acc"])
    kept = rows.set_index("epoch").loc[before["epoch"], "val/acc"].dropna()
    assert kept.tolist() == pytest.approx(before["val/acc"].tolist())
    assert not rows.dropna(subset=["step/train_loss"]).duplicated(subset=["step"]).any()


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    process = start(tmp_path, [*ARGS, "trainer.max_epochs=4"])
    wait_for("outputs/train/runs/*/checkpoints/last.ckpt", tmp_path, process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    assert "interrupted: stopped by Ctrl-C; saved " in output, output[-3000:]
    assert not (the_run(tmp_path) / "final_metrics.json").exists()
