"""A killed run resumed with ckpt_path=last ends with the same weights as an uninterrupted one,
the run's metrics.csv holds every row once across the resume, and what the first fit drew at its
start stays."""

import os
import shutil
import signal
from pathlib import Path

import lightning as L
import pandas as pd
import pytest
import torch

from fer_lightning.errors import Interrupted
from fer_lightning.training import fit
from fer_lightning.training.fit import train
from fer_lightning.training.loggers import ResumableCSVLogger
from tests.helpers.commands import STOPPABLE_RUN, run_cli, start, the_run, wait_for
from tests.helpers.configs import compose_train
from tests.helpers.runs import ALL_OUTPUTS, events_dir, train_tiny


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(
        run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True
    )
    assert checkpoint["epoch"] == 2
    return checkpoint["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    """The final weights of STOPPABLE_RUN trained in one go."""
    whole = tmp_path_factory.mktemp("whole")
    train(compose_train(STOPPABLE_RUN, whole))
    return final_weights(whole / "run")


def assert_same_weights(resumed: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]):
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=0, atol=0)


# Slow (a killed child process, then its resume, on whole epochs): make test-all. The
# stopped-inside-an-epoch tests below check the same weights in this process.
@pytest.mark.slow
@pytest.mark.e2e
def test_killed_run_resumes_to_the_same_weights(tmp_path, uninterrupted):
    killed = tmp_path / "killed"
    killed.mkdir()

    process = start(killed, STOPPABLE_RUN)
    wait_for("outputs/train/runs/*/checkpoints/last.ckpt", killed, process)
    process.send_signal(signal.SIGKILL)  # no chance to clean up
    process.wait()
    run = the_run(killed)
    assert not (run / "final_metrics.json").exists()

    result = run_cli(["ckpt_path=last"], cwd=killed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert the_run(killed) == run  # continued in its own folder
    assert (run / "final_metrics.json").exists()
    assert_same_weights(final_weights(run), uninterrupted)


class SigtermAt(L.Callback):
    """A real SIGTERM to this process when the run has taken ``step`` optimizer steps."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def stopped_at(step: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STOPPABLE_RUN in tmp_path/run, stopped by SIGTERM after ``step`` steps: its last.ckpt."""
    every = fit.instantiate_all
    monkeypatch.setattr(
        fit,
        "instantiate_all",
        lambda cfg: (
            [*every(cfg), SigtermAt(step)] if cfg and "save_on_interrupt" in cfg else every(cfg)
        ),
    )
    with pytest.raises(Interrupted) as stop:
        train(compose_train(STOPPABLE_RUN, tmp_path))
    assert stop.value.exit_code == 143
    monkeypatch.undo()
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == step
    return last


@pytest.mark.e2e
@pytest.mark.parametrize("step", [25, 36])
def test_a_run_stopped_inside_an_epoch_resumes_to_the_same_weights(
    tmp_path, monkeypatch, uninterrupted, step
):
    """SIGTERM after the 8th of epoch 1's 18 batches (and, for 36, after its last one): the
    resumed run neither trains the epoch's first batches again nor draws other augmentations."""
    last = stopped_at(step, tmp_path, monkeypatch)
    train(compose_train([f"ckpt_path={last}"], tmp_path))
    assert_same_weights(final_weights(tmp_path / "run"), uninterrupted)


@pytest.mark.e2e
def test_a_checkpoint_from_inside_an_epoch_without_its_place_says_so(tmp_path, monkeypatch, caplog):
    """One saved by an older version (no loader place, no RNG states) cannot resume exactly."""
    last = stopped_at(25, tmp_path, monkeypatch)
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    del checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    checkpoint["callbacks"] = {
        k: v for k, v in checkpoint["callbacks"].items() if "Reseed" not in k
    }
    torch.save(checkpoint, last)
    train(compose_train([f"ckpt_path={last}"], tmp_path))
    assert "saved inside epoch 1 by an older fer_lightning" in caplog.text


def test_the_csv_logger_appends_and_a_resume_forgets_the_rows_after_its_checkpoint(tmp_path):
    """Lightning's own writer deletes an existing metrics.csv; a resumed run's logger keeps it,
    drops the rows logged at the checkpoint's step or later (logged again), and appends."""
    first = ResumableCSVLogger(str(tmp_path), name="", version="")
    for step in range(4):
        first.log_metrics({"loss": float(step)}, step=step)
    first.save()
    resumed = ResumableCSVLogger(str(tmp_path), name="", version="")
    assert resumed.experiment.forget_from(2) == 2
    resumed.log_metrics({"loss": 20.0, "acc": 0.5}, step=2)  # a new column rewrites the header
    resumed.save()
    table = pd.read_csv(tmp_path / "metrics.csv")
    assert table["step"].tolist() == [0, 1, 2]
    assert table["loss"].tolist() == [0.0, 1.0, 20.0]
    assert table["acc"].isna().tolist() == [True, True, False]
    assert resumed.experiment.forget_from(5) == 0  # nothing logged that late: left as it is


@pytest.mark.e2e
def test_a_resumed_run_continues_metrics_csv_with_each_row_once(tmp_path):
    """In-process through the entry point: one epoch, then resumed from last.ckpt to two."""
    run = train_tiny(tmp_path, "logger=default", "trainer.log_every_n_steps=1", "test=false")
    before = pd.read_csv(run.dir / "metrics.csv")
    assert before.dropna(subset=["val/acc"])["epoch"].tolist() == [0]
    train(compose_train([f"ckpt_path={run.last}", "trainer.max_epochs=2"], tmp_path))
    after = pd.read_csv(run.dir / "metrics.csv")
    # The new epoch is appended, the first one kept as it was, each epoch's rows once.
    assert after.dropna(subset=["val/acc"])["epoch"].tolist() == [0, 1]
    assert after.dropna(subset=["train/loss"])["epoch"].tolist() == [0, 1]
    pd.testing.assert_frame_equal(after.iloc[: len(before)][before.columns], before)
    assert after.dropna(subset=["step/train_loss"])["step"].is_unique


@pytest.mark.e2e
def test_a_resumed_run_reports_the_training_time_of_all_its_processes(tmp_path):
    """train_time_s adds the time the checkpoint carries (Lightning's Timer) to this process's."""
    run = train_tiny(tmp_path, "test=false")
    checkpoint = torch.load(run.last, map_location="cpu", weights_only=True)
    elapsed = checkpoint["callbacks"]["Timer"]["time_elapsed"]
    assert 0 < elapsed["train"] <= run.metrics["train_time_s"]
    elapsed["train"] = 1000.0  # as if the first process had trained for 1000 s
    torch.save(checkpoint, run.last)
    resumed = train(compose_train([f"ckpt_path={run.last}", "trainer.max_epochs=2"], tmp_path))
    assert 1000.0 < resumed["train_time_s"] < 1000.0 + 300


@pytest.mark.e2e
def test_a_copied_run_folder_resumes_into_the_copy_and_leaves_the_original(tmp_path):
    """The saved config holds the run folder resolved: a resume of a copy rebases it."""
    original = train_tiny(tmp_path / "a", *ALL_OUTPUTS)
    before = {p: p.stat().st_mtime_ns for p in original.dir.rglob("*") if p.is_file()}
    copy = tmp_path / "b" / "run"
    shutil.copytree(original.dir, copy)
    starts = {p: p.read_bytes() for p in (copy / "activations").glob("start_*.png")}
    assert starts
    last = copy / "checkpoints" / "last.ckpt"
    train(compose_train([f"ckpt_path={last}", "trainer.max_epochs=2"], tmp_path / "b"))
    # The untrained network's pictures stay: the resumed fit restored trained weights.
    assert {p: p.read_bytes() for p in (copy / "activations").glob("start_*.png")} == starts
    assert (copy / "activations" / "end_filters.png").exists()
    after = {p: p.stat().st_mtime_ns for p in original.dir.rglob("*") if p.is_file()}
    assert after == before  # nothing of the original was written to
    rows = pd.read_csv(copy / "metrics.csv").dropna(subset=["val/acc"])
    assert rows["epoch"].tolist() == [0, 1]
    assert list(events_dir(copy).glob("events.out.tfevents.*"))
