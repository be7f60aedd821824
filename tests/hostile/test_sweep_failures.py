"""A multirun whose job fails goes on with the others, lists the failures at its end, exits 1 or 2.

Hydra's launcher ran the jobs of a sweep one after the other in this process: the first job's
``SystemExit(2)`` (a user's mistake) ended the sweep, and the good jobs after it never ran.
"""

from __future__ import annotations

import json
import sys

import pytest
from hydra.core.global_hydra import GlobalHydra

from fer_lightning import train
from tests.helpers.runs import TINY

pytestmark = pytest.mark.e2e  # every test here trains or runs a command


@pytest.fixture(autouse=True)
def in_tmp_path(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


def sweep(args: list[str], monkeypatch, capsys) -> tuple[object, list[str]]:
    monkeypatch.setattr(sys, "argv", ["fer_lightning", "-m", *TINY, *args])
    code = None
    try:
        train.main()
    except SystemExit as stop:
        code = stop.code
    return code, [x for x in capsys.readouterr().err.splitlines() if x.strip()]


def jobs(tmp_path) -> dict[str, bool]:
    """Each job's folder by number, and whether it finished (final_metrics.json)."""
    (folder,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    return {
        p.name: (p / "final_metrics.json").is_file()
        for p in sorted(folder.iterdir())
        if p.name.isdigit()
    }


def test_a_users_mistake_in_the_first_job_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    code, lines = sweep(["data.batch_size=-1,16,0"], monkeypatch, capsys)
    assert jobs(tmp_path) == {"0": False, "1": True, "2": False}, lines[-10:]
    assert code == 2, lines[-10:]
    # Each failure as it happens, in the one line of a single run, then the list at the end.
    assert [x for x in lines if x.startswith("error: data.batch_size=")] == [
        "error: data.batch_size=-1: give a whole number of faces, at least 1",
        "error: data.batch_size=0: give a whole number of faces, at least 1",
    ], lines
    end = lines[lines.index("error: 2 of 3 jobs failed:") :]
    assert len(end) == 3, lines[-10:]
    assert end[1].startswith("  job 0 (data.batch_size=-1): error: data.batch_size=-1: ")
    assert end[2].startswith("  job 2 (data.batch_size=0): error: data.batch_size=0")
    assert not any("Traceback" in x for x in lines)
    # The failed job's folder says why it has no results.
    (folder,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    assert (folder / "0" / "job_failed.txt").read_text().startswith("error: data.batch_size=-1")
    assert json.loads((folder / "1" / "final_metrics.json").read_text())


def test_a_crashed_job_is_listed_with_its_traceback_in_its_log_and_exits_1(
    tmp_path, monkeypatch, capsys
):
    """An exception inside fit that is no user's mistake."""
    crash = "+callbacks.crash._target_=tests.helpers.callbacks.CrashAtFitStart"
    code, lines = sweep([crash, "+callbacks.crash.crash=true,false"], monkeypatch, capsys)
    assert jobs(tmp_path) == {"0": False, "1": True}, lines[-10:]
    assert code == 1, lines[-10:]
    end = lines[lines.index("error: 1 of 2 jobs failed:") :]
    assert len(end) == 2, end
    assert (
        end[1].lower()
        == "  job 0 (+callbacks.crash.crash=true): crashed: runtimeerror: a bug, on purpose"
    )
    (folder,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    assert "Traceback" in (folder / "0" / "train.log").read_text()


def test_a_sweep_without_failures_is_unchanged(tmp_path, monkeypatch, capsys):
    code, lines = sweep(["seed=1,2"], monkeypatch, capsys)
    assert code is None and jobs(tmp_path) == {"0": True, "1": True}
    assert not [x for x in lines if x.startswith("error")]
