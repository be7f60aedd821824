"""The real entry point on tiny settings: every model runs, the demo learns, errors are one line."""

from __future__ import annotations

import itertools
import json

import pytest
from hydra.utils import instantiate
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fer_lightning.errors import DataError
from fer_lightning.training.fit import train
from tests.helpers.commands import run_cli
from tests.helpers.configs import MODELS
from tests.helpers.runs import TINY, TINY_RUN, events_dir, on_data


@pytest.mark.e2e
@pytest.mark.parametrize("model", MODELS)
def test_every_model_runs_fit_and_test(train_cfg, model):
    cfg = train_cfg([*TINY, f"model={model}"])
    metrics = train(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0
    # The count a run reports (final_metrics.json, the report's table) is the network's own.
    net = instantiate(cfg.model)
    assert metrics["params"] == sum(p.numel() for p in net.parameters())


@pytest.mark.e2e
def test_colorjitter_and_every_scheduler_run(train_cfg):
    for scheduler in ("step", "none", "cosine", "plateau", "onecycle"):
        metrics = train(
            train_cfg([*TINY, "aug=colorjitter", f"scheduler={scheduler}", "optimizer=sgd"])
        )
        assert "train/loss" in metrics


@pytest.mark.e2e
def test_onecycle_warms_up_then_anneals_per_step(train_cfg, tmp_path):
    """The lr in TensorBoard, batch by batch: up to optimizer.lr, then down to lr/25/1e4."""
    cfg = train_cfg(
        [
            *TINY_RUN,
            "trainer.max_epochs=2",
            "trainer.limit_train_batches=5",
            "trainer.limit_val_batches=1",
            "trainer.log_every_n_steps=1",
            "test=false",
            "logger=default",
            "+callbacks.lr_monitor._target_=lightning.pytorch.callbacks.LearningRateMonitor",
            "scheduler=onecycle",
            "scheduler.pct_start=0.3",
            "optimizer=sgd",
            "optimizer.lr=0.1",
        ]
    )
    train(cfg)
    events = EventAccumulator(str(events_dir(tmp_path / "run")), size_guidance={"scalars": 0})
    events.Reload()
    lrs = [e.value for e in events.Scalars("step/lr")]
    assert len(lrs) == 10  # one per training step: the schedule spans the whole run
    peak = lrs.index(max(lrs))
    assert 0 < peak < 9
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1, rel=0.05)
    assert lrs[-1] == pytest.approx(0.1 / 25 / 1e4)
    assert all(a <= b for a, b in itertools.pairwise(lrs[: peak + 1]))
    assert all(a >= b for a, b in itertools.pairwise(lrs[peak:]))


# Slow (two CPU minutes, three real epochs): make test-all.
@pytest.mark.slow
@pytest.mark.e2e
def test_demo_run_learns_and_writes_its_run_folder(tmp_path):
    """A short CPU run on the built-in faces, from another directory, well above chance (1/7)."""
    result = run_cli(
        [
            "data=synthetic",
            "data.synthetic_size=1200",
            "data.batch_size=32",
            "model=emo1",
            "trainer=cpu",
            "trainer.max_epochs=3",
            "test=true",
            "callbacks.progress_bar=null",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "outputs" / "train" / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    metrics = json.loads((run / "final_metrics.json").read_text())
    assert metrics["val/acc_best"] > 0.45, metrics
    assert metrics["test/acc"] > 0.45, metrics
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert list(events_dir(run).glob("events.out.tfevents.*"))
    assert (run / ".hydra" / "config.yaml").is_file()
    assert (run / "train.log").is_file()  # Hydra's job log is named after the task
    output = result.stdout + result.stderr
    assert str(run) in output  # the run folder is printed
    # One layer table, the seed report's (model_summary.txt), not Lightning's as well.
    assert (run / "model_summary.txt").is_file() and "Model summary (EmoCNN)" in output
    assert not any(
        "Name" in line and "Type" in line and "Params" in line for line in output.splitlines()
    )


@pytest.mark.e2e
def test_missing_data_file_is_one_line(tmp_path):
    result = run_cli([], cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: no data file at ")
    assert "data.path=" in lines[-1] and "data=synthetic" in lines[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_unknown_option_is_reported_by_hydra(tmp_path):
    result = run_cli(["model=emo9"], cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "emo9" in result.stderr and "Traceback" not in result.stderr


def test_shared_csv_default_split_names_the_development_options(train_cfg, shared_csv):
    with pytest.raises(DataError, match=r"no PrivateTest rows.*data.val_usage=null"):
        train(train_cfg(on_data(TINY, "data=fer2013", f"data.path={shared_csv}")))


@pytest.mark.e2e
def test_shared_csv_trains_on_real_rows(train_cfg, shared_csv):
    metrics = train(train_cfg(on_data(TINY, "data=fer2013_dev", f"data.path={shared_csv}")))
    assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.slow
def test_real_emo5_colorjitter_one_epoch(tmp_path, shared_csv):
    """The issue's acceptance command: one CPU epoch on the real rows, val and test reported."""
    result = run_cli(
        [
            "model=emo5",
            "aug=colorjitter",
            f"data.path={shared_csv}",
            "data.val_usage=null",
            "data.test_usage=PublicTest",
            "trainer.max_epochs=1",
            "callbacks.progress_bar=null",
        ],
        cwd=tmp_path,
        timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    metrics = json.loads((run / "final_metrics.json").read_text())
    assert metrics["val/acc_best"] > 0.25 and metrics["test/acc"] > 0.25


@pytest.mark.e2e
def test_folder_sample_trains_through_the_entry_point(train_cfg, shared_csv):
    sample = shared_csv.parent / "folder_sample"
    data = ["data=fer2013_folder", f"data.path={sample}", "data.test_usage=PublicTest"]
    metrics = train(train_cfg(on_data(TINY, *data)))
    assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.e2e
def test_on_device_data_runs_and_refuses_workers(train_cfg):
    metrics = train(train_cfg([*TINY, "data.on_device=true"]))
    assert 0.0 <= metrics["test/acc"] <= 1.0
    with pytest.raises(DataError, match=r"data\.num_workers=0"):
        train(train_cfg([*TINY, "data.on_device=true", "data.num_workers=1"]))


@pytest.mark.slow
def test_compiled_model_trains(train_cfg):
    metrics = train(train_cfg([*TINY, "compile=true"]))
    assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.e2e
def test_max_time_stops_the_fit_and_the_test_still_runs(train_cfg):
    """trainer.max_time is honoured although the run keeps its own Timer for train_time_s
    (Lightning ignores max_time when the callbacks hold one)."""
    cfg = train_cfg([*TINY_RUN, "trainer.max_epochs=200", "trainer.max_time=00:00:00:01"])
    metrics = train(cfg)
    assert metrics["epochs"] < 200
    assert 1.0 <= metrics["train_time_s"] < 30
    assert 0.0 <= metrics["test/acc"] <= 1.0
