"""The report on broken files: ledgers with cells that are not numbers, lacking columns or
not files; run folders whose files do not read; targets where nothing can be written. Each is
one line naming the file and the fix (exit 2), or, for one broken run among others, a warning
that names it, and nothing is changed on a refusal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fer_lightning.report import main as report_main
from tests.helpers.report_runs import README, make_run, one_error_line, snapshot

# 5. Broken ledgers, run folders and targets: one line naming the file and the fix, exit 2.

LEDGER_HEAD = "run,labels,seed,lr,epochs,max_epochs,params,test_acc,recall_angry\n"


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        ("old,fer2013,1,0.1,2,2,10,abc,0.3", "test_acc", "abc"),
        ("old,fer2013,x,0.1,2,2,10,0.5,0.3", "seed", "x"),
        ("old,fer2013,1,0.1,two,2,10,0.5,0.3", "epochs", "two"),
        ("old,fer2013,1,0.1,2,2,10.5,0.5,0.3", "params", "10.5"),
        ("old,fer2013,1,0.1,2,2,10,0.5,?", "recall_angry", "?"),
        ("old,fer2013,1,fast,2,2,10,0.5,0.3", "lr", "fast"),
        ("old,fer2013,1.5,0.1,2,2,10,0.5,0.3", "seed", "1.5"),
    ],
)
def test_a_ledger_cell_that_is_not_a_number_is_one_line(tmp_path, capsys, row, column, value):
    ledger = tmp_path / "results.csv"
    ledger.write_text(LEDGER_HEAD + "first,fer2013,1,0.1,2,2,10,0.5,0.3\n" + row + "\n")
    before = snapshot(tmp_path)
    err = one_error_line(capsys, "--ledger", str(ledger), "--out", str(tmp_path / "out"))
    assert err.startswith(f"error: --ledger {ledger}: row 2 (run 'old'): {column} ")
    assert repr(value) in err and "restore it from git" in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("folder", "is a folder"),
        ("run\nold\n", "lacks the columns labels, epochs, params"),
        ("run,test_acc\nold,0.5\n", "lacks the columns labels, epochs, params"),
        ("run,labels,epochs,params\ncaf\xe9,fer2013,2,10\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_a_ledger_folder_or_one_lacking_columns_is_one_line(tmp_path, capsys, content, message):
    runs = tmp_path / "runs"
    make_run(runs, "now")
    ledger = tmp_path / "results.csv"
    if content == "folder":
        ledger.mkdir()
    elif isinstance(content, bytes):
        ledger.write_bytes(content)
    else:
        ledger.write_text(content)
    before = snapshot(tmp_path)
    for dirs in ([str(runs)], []):
        err = one_error_line(capsys, *dirs, "--ledger", str(ledger), "--out", str(tmp_path / "o"))
        assert err.startswith(f"error: --ledger {ledger}: ") and message in err, err
    assert snapshot(tmp_path) == before


def test_a_ledger_without_test_or_epoch_limits_still_draws(tmp_path, capsys):
    """Runs trained with test=false have no test accuracy: the report writes no such column,
    and reads its own ledger back."""
    ledger = tmp_path / "results.csv"
    ledger.write_text("run,labels,epochs,params,best_val_acc\nold,fer2013,2,10,0.5\n")
    report_main(["--ledger", str(ledger), "--out", str(tmp_path / "out")])
    assert "| old " in (tmp_path / "out" / "results.md").read_text()


def break_metrics(run: Path) -> None:
    (run / "final_metrics.json").write_text('{"test/acc": 0.')  # a write cut short


def break_config(run: Path) -> None:
    (run / ".hydra" / "config.yaml").unlink()


BROKEN_RUNS = {
    "final_metrics.json cut short": (break_metrics, "final_metrics.json"),
    "final_metrics.json a list": (
        lambda run: (run / "final_metrics.json").write_text("[1, 2]"),
        "final_metrics.json",
    ),
    "final_metrics.json non-UTF-8": (
        lambda run: (run / "final_metrics.json").write_bytes(b'{"test/acc": "\xff"}'),
        "final_metrics.json",
    ),
    "a metric that is text": (
        lambda run: (run / "final_metrics.json").write_text('{"test/acc": "high", "epochs": 2}'),
        "final_metrics.json",
    ),
    "epochs that is text": (
        lambda run: (run / "final_metrics.json").write_text('{"epochs": "two"}'),
        "final_metrics.json",
    ),
    "no config.yaml": (break_config, "config.yaml"),
    "config.yaml not YAML": (
        lambda run: (run / ".hydra" / "config.yaml").write_text("seed: [1\n"),
        "config.yaml",
    ),
    "config.yaml a folder": (
        lambda run: (break_config(run), (run / ".hydra" / "config.yaml").mkdir()),
        "config.yaml",
    ),
    "config.yaml an unknown resolver": (
        lambda run: (run / ".hydra" / "config.yaml").write_text("optimizer: {lr: '${nope:1}'}\n"),
        "config.yaml",
    ),
    "no hydra.yaml": (lambda run: (run / ".hydra" / "hydra.yaml").unlink(), "hydra.yaml"),
    "hydra.yaml without choices": (
        lambda run: (run / ".hydra" / "hydra.yaml").write_text("hydra: {}\n"),
        "hydra.yaml",
    ),
    "overrides.yaml not YAML": (
        lambda run: (run / ".hydra" / "overrides.yaml").write_text("- [a\n"),
        "overrides.yaml",
    ),
    "run_info.json cut short": (
        lambda run: (run / ".hydra" / "run_info.json").write_text('{"machine": {'),
        "run_info.json",
    ),
}


@pytest.mark.parametrize("broken", BROKEN_RUNS)
def test_a_broken_run_among_good_ones_is_skipped_with_a_warning(tmp_path, capsys, broken):
    """A run whose files do not read is left out as an unfinished run is (training writes
    final_metrics.json last, so a run killed then leaves it cut short), with a warning naming
    the folder; alone, it is the error."""
    spoil, file = BROKEN_RUNS[broken]
    runs = tmp_path / "runs"
    make_run(runs, "good")
    bad = make_run(runs, "bad")
    spoil(bad)
    report_main([str(runs), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and f"skipped {bad}" in warnings[0] and file in warnings[0], err
    assert "Traceback" not in err
    assert pd.read_csv(tmp_path / "out" / "results.csv")["run"].tolist() == ["good"]
    err = one_error_line(capsys, str(bad), "--out", str(tmp_path / "alone"))
    assert str(bad) in err and file in err
    assert not (tmp_path / "alone").exists()


@pytest.mark.parametrize(
    "log",
    [b'epoch,val/acc\n0,0.3\n1,"unclosed\n', b"\xff\xfe\x00garbage", b"epoch,val/acc\n0,high\n"],
)
def test_a_broken_training_log_costs_only_the_curves(tmp_path, capsys, log):
    runs = tmp_path / "runs"
    run = make_run(runs, "now")
    (run / "metrics.csv").write_bytes(log)
    report_main([str(runs), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and err.count("\n") == 1 and "metrics.csv" in err, err
    assert pd.read_csv(tmp_path / "out" / "results.csv")["run"].tolist() == ["now"]


@pytest.mark.parametrize("what", ["--out is a file", "--out below a file", "--ledger below a file"])
def test_outputs_where_no_file_can_go_are_one_line(tmp_path, capsys, what):
    runs = tmp_path / "runs"
    make_run(runs, "now")
    (tmp_path / "file").write_text("x")
    out, ledger = tmp_path / "out", []
    if what == "--out is a file":
        out = tmp_path / "file"
    elif what == "--out below a file":
        out = tmp_path / "file" / "out"
    else:
        ledger = ["--ledger", str(tmp_path / "file" / "results.csv")]
    before = snapshot(tmp_path)
    err = one_error_line(capsys, str(runs), "--out", str(out), *ledger)
    assert what.split()[0] in err and "file" in err
    assert snapshot(tmp_path) == before


# Read-only targets: the report honours write bits, the superuser's runs included, as it
# would a user's whom the system refuses.

READ_ONLY = {
    "--into file": "docs/README.md",
    "--into folder": "docs",
    "--out file": "out/results.md",
    "--out folder": "out",
    "--out new folder below a read-only one": "out",
    "--ledger file": "docs/results.csv",
    "--ledger folder": "docs",
}


@pytest.mark.parametrize("case", READ_ONLY)
def test_a_read_only_target_is_one_line_and_changes_nothing(tmp_path, capsys, case):
    runs = tmp_path / "runs"
    make_run(runs, "now")
    docs, out = tmp_path / "docs", tmp_path / "out"
    docs.mkdir()
    (docs / "README.md").write_text(README)
    (docs / "results.csv").write_text("run,labels,epochs,params,test_acc\nold,fer2013,2,10,0.5\n")
    out.mkdir()
    (out / "results.md").write_text("the previous table")
    option = case.split()[0]
    args = {
        "--into": ["--into", f"{docs / 'README.md'}#results"],
        "--out": [],
        "--ledger": ["--ledger", str(docs / "results.csv")],
    }[option]
    target = tmp_path / READ_ONLY[case]
    target.chmod(0o555 if target.is_dir() else 0o444)
    before = snapshot(tmp_path)
    try:
        out = out / "new" if "new folder" in case else out
        err = one_error_line(capsys, str(runs), "--out", str(out), *args)
        assert err.startswith(f"error: {option} ") and "writable" in err, err
        assert snapshot(tmp_path) == before
    finally:
        target.chmod(0o755)
