"""Interrupted runs: the exit status a scheduler reads, the resume line, no lost log rows."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fer_lightning.training.fit import train
from tests.helpers.commands import STOPPABLE_RUN, run_cli, start, the_run, wait_for
from tests.helpers.configs import compose_train
from tests.helpers.paths import ROOT
from tests.helpers.runs import TINY_RUN, train_tiny

pytestmark = pytest.mark.e2e  # every test here trains or runs a command

# Marks the test loop's start with a file and slows each of its batches (one face each).
SLOW_TEST = "tests.helpers.callbacks.SlowTest"


def test_sigterm_saves_a_checkpoint_exits_143_and_the_run_resumes(tmp_path):
    """A scheduler reads the exit status: 143 (128 + SIGTERM), not 0, and no final metrics."""
    process = start(tmp_path, [*STOPPABLE_RUN, "trainer.max_epochs=4", "logger=default"])
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
    process = start(tmp_path, [*STOPPABLE_RUN, "trainer.max_epochs=4"])
    wait_for("outputs/train/runs/*/checkpoints/last.ckpt", tmp_path, process)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    assert "interrupted: stopped by Ctrl-C; saved " in output, output[-3000:]
    assert not (the_run(tmp_path) / "final_metrics.json").exists()


def start_slow_test(module: str, cwd: Path, args: list[str]) -> subprocess.Popen:
    """``python -m <module>`` with a slow test loop; ``cwd/testing`` appears when it starts."""
    slow = [f"+callbacks.slow._target_={SLOW_TEST}", f"+callbacks.slow.marker={cwd / 'testing'}"]
    return subprocess.Popen(
        [sys.executable, "-m", module, *args, "data.eval_batch_size=1", *slow],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HYDRA_FULL_ERROR": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def stop_when_testing(process: subprocess.Popen, cwd: Path, signum: int) -> tuple[int, str]:
    wait_for("testing", cwd, process)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


@pytest.mark.parametrize(
    ("signum", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")]
)
def test_a_signal_during_eval_exits_with_its_code_and_writes_no_metrics(
    tmp_path, tiny_run, signum, code, name
):
    process = start_slow_test("fer_lightning.eval", tmp_path, [f"ckpt_path={tiny_run.best}"])
    returncode, output = stop_when_testing(process, tmp_path, signum)
    assert returncode == code, output[-3000:]
    (line,) = [x for x in output.splitlines() if x.startswith("interrupted:")]
    assert line.startswith(f"interrupted: stopped by {name}") and "evaluate again" in line, line
    assert "Traceback" not in output, output[-3000:]
    assert not list(tmp_path.glob("outputs/eval/runs/*/metrics.json"))


def test_sigterm_during_the_test_after_fit_exits_143_and_says_how_to_finish(tmp_path):
    """The fit is done and its checkpoints are saved: the line says how to finish the test."""
    process = start_slow_test("fer_lightning", tmp_path, list(TINY_RUN))
    returncode, output = stop_when_testing(process, tmp_path, signal.SIGTERM)
    assert returncode == 143, output[-3000:]
    (line,) = [x for x in output.splitlines() if x.startswith("interrupted:")]
    assert line.startswith("interrupted: stopped by SIGTERM during the test"), line
    run = the_run(tmp_path)
    assert not (run / "final_metrics.json").exists()
    assert f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}" in line, line


def test_the_resume_of_a_run_whose_test_was_stopped_tests_it(tmp_path):
    """What the line above advises: the fit is over, so the resume goes on to the test."""
    run = train_tiny(tmp_path)
    (run.dir / "final_metrics.json").unlink()  # as if the test had been stopped
    metrics = train(compose_train([f"ckpt_path={run.last}"], tmp_path))
    assert 0.0 <= metrics["test/acc"] <= 1.0 and "val/acc_best" in metrics
    assert (run.dir / "final_metrics.json").is_file()
