"""Writes that fail: a checkpoint that was not saved, a run folder a resume cannot write, a
metrics.csv that is not the log the run wrote. One line each, and nothing lost.

Root writes into a folder whatever its mode says, and tests run as root here: the read-only
folders are refused to root too by running without its right to override modes (read_only.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fer_lightning.errors import DataError, UserError
from fer_lightning.training.fit import train
from tests.helpers.configs import compose_train
from tests.helpers.paths import ROOT
from tests.helpers.read_only import (
    child_without_override_rights,
    read_only,
    without_override_rights,
    writable,
)
from tests.helpers.runs import TINY_RUN, train_tiny


@pytest.mark.e2e
def test_a_checkpoint_that_could_not_be_saved_stops_the_run_in_one_line(tmp_path):
    """Lightning swallows the PermissionError of a save: the run ended with exit 0 and no file."""
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    read_only(checkpoints)
    try:
        with without_override_rights(), pytest.raises(UserError, match=r"was not saved") as error:
            train(compose_train(TINY_RUN, tmp_path))
    finally:
        writable(checkpoints)
    line = str(error.value)
    assert line.startswith(f"checkpoint {checkpoints}/"), line
    assert "\n" not in line and "paths.log_dir" in line
    assert not list(checkpoints.iterdir())
    assert not (tmp_path / "run" / "final_metrics.json").exists()


@pytest.mark.e2e
def test_a_checkpoint_folder_that_is_a_file_stops_the_run_in_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoints").write_text("a file where the folder goes")
    with pytest.raises(UserError, match=r"checkpoint .*was not saved") as error:
        train(compose_train(TINY_RUN, tmp_path))
    assert "\n" not in str(error.value)
    assert (tmp_path / "run" / "checkpoints").read_text() == "a file where the folder goes"


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory) -> Path:
    """A finished tiny run with metrics.csv (and no TensorBoard), to copy and resume."""
    folder = tmp_path_factory.mktemp("csv_run")
    return train_tiny(folder, "logger=default", "~logger.tensorboard", "test=false").dir


def copied(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"epoch,step,val/acc\n0,abc,0.5\n", r"metrics\.csv row 2: step 'abc' is not a number"),
        (b"epoch,step\n0,1\n\x00\xff\xfe\x89PNG\n", r"metrics\.csv cannot be read as text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", r"metrics\.csv cannot be read as text"),
    ],
)
def test_a_resume_with_a_metrics_csv_that_is_no_log_is_one_line(
    csv_run, tmp_path, content, message
):
    run = copied(csv_run, tmp_path)
    (run / "metrics.csv").write_bytes(content)
    last = run / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    with pytest.raises(DataError, match=message) as error:
        train(compose_train([f"ckpt_path={last}", "trainer.max_epochs=2"], tmp_path))
    assert "\n" not in str(error.value) and "move it aside" in str(error.value)
    assert (run / "metrics.csv").read_bytes() == content  # nothing lost
    assert last.read_bytes() == before


@pytest.mark.e2e
def test_a_resume_with_a_folder_for_metrics_csv_is_one_line(csv_run, tmp_path):
    run = copied(csv_run, tmp_path)
    (run / "metrics.csv").unlink()
    (run / "metrics.csv").mkdir()
    last = run / "checkpoints" / "last.ckpt"
    with pytest.raises(DataError, match=r"metrics\.csv is no file"):
        train(compose_train([f"ckpt_path={last}", "trainer.max_epochs=2"], tmp_path))


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.e2e
def test_a_resume_of_a_read_only_run_folder_is_one_line_and_changes_nothing(csv_run, tmp_path):
    outputs = tmp_path / "outputs" / "train" / "runs"
    outputs.mkdir(parents=True)
    run = shutil.copytree(csv_run, outputs / csv_run.name)
    read_only(run, *run.rglob("*"))
    before = snapshot(run)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "fer_lightning", "ckpt_path=last", "trainer.max_epochs=2"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HYDRA_FULL_ERROR": "0"},
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=child_without_override_rights,
        )
        after = snapshot(run)
    finally:
        writable(run, *run.rglob("*"))
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(f"error: {run}") and "cannot be written" in lines[0], lines
    assert "copy" in lines[0], lines
    assert after == before


@pytest.mark.parametrize(
    ("command", "args"), [("train", ["data=synthetic"]), ("eval", ["ckpt_path=x.ckpt"])]
)
def test_a_new_run_under_a_read_only_folder_is_one_line(
    command, args, tmp_path, monkeypatch, capsys
):
    """Hydra writes the run folder before the command starts: checked before it does."""
    import importlib

    from hydra.core.global_hydra import GlobalHydra

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    read_only(outputs)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [command, *args])
    GlobalHydra.instance().clear()
    try:
        with without_override_rights(), pytest.raises(SystemExit) as stop:
            importlib.import_module(f"fer_lightning.{command}").main()
    finally:
        writable(outputs)
        GlobalHydra.instance().clear()
    lines = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert stop.value.code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {outputs} cannot be written"), lines
    assert "paths.log_dir" in lines[0] and not list(outputs.iterdir())
