"""Multirun sweeps, named experiments, and the results report generated from their folders."""

import json

import pandas as pd
import pytest
from omegaconf import OmegaConf
from PIL import Image

from fer_lightning.report import main as report_main
from fer_lightning.report import run_labels
from fer_lightning.runs.results import epoch_curves, other_overrides
from tests.helpers.commands import run_cli
from tests.helpers.runs import REPORTED_RUN, TINY, TINY_RUN


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("sweep")
    result = run_cli(["-m", "model=emo1,emo2", "aug=none,colorjitter", *REPORTED_RUN], cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (cwd / "outputs" / "train" / "multiruns").iterdir()
    return sweep_dir


@pytest.mark.e2e
def test_two_by_two_sweep_gives_four_numbered_runs(sweep):
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in runs] == ["0", "1", "2", "3"]
    for run in runs:
        assert (run / "final_metrics.json").is_file()
        assert (run / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.e2e
def test_report_table_matches_each_runs_metrics(sweep, tmp_path, capsys):
    report_main([str(sweep), "--out", str(tmp_path)])
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == 4
    assert sorted(zip(table.model, table.aug, strict=True)) == sorted(
        (m, a) for m in ("emo1", "emo2") for a in ("none", "colorjitter")
    )
    for row in table.itertuples():
        metrics = json.loads((sweep / str(row.run) / "final_metrics.json").read_text())
        assert row.test_acc == pytest.approx(metrics["test/acc"])
        assert row.best_val_acc == pytest.approx(metrics["val/acc_best"])
        assert row.test_macro_f1 == pytest.approx(metrics["test/f1"])
        assert row.recall_fear == pytest.approx(metrics["test/recall/fear"])
        assert row.params == {"emo1": 374_791, "emo2": 335_367}[row.model]
        assert row.epochs == row.max_epochs == 2
        assert row.test_loss == pytest.approx(metrics["test/loss"])
        assert row.test_macro_precision == pytest.approx(metrics["test/precision"])
        assert row.test_macro_recall == pytest.approx(metrics["test/recall"])
        assert row.train_min == pytest.approx(metrics["train_time_s"] / 60)
        assert row.precision == metrics["precision"] in ("bf16-mixed", "32-true")
        assert row.seed == 42 and row.hardware.endswith(" cores")
    assert "| emo1" in (tmp_path / "results.md").read_text()
    for name in ("test_accuracy.png", "val_curves.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG"


@pytest.mark.e2e
def test_report_keeps_the_runs_of_one_label_set(sweep, tmp_path, capsys):
    report_main([str(sweep), "--labels", "fer2013", "--out", str(tmp_path)])
    assert len(pd.read_csv(tmp_path / "results.csv")) == 4
    with pytest.raises(SystemExit):
        report_main([str(sweep), "--labels", "ferplus", "--out", str(tmp_path / "none")])
    assert "no finished runs with data.labels=ferplus" in capsys.readouterr().err


def test_report_without_runs_is_one_line(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        report_main([str(tmp_path)])
    assert exit_info.value.code == 2


@pytest.mark.e2e
def test_every_seed_experiment_composes_and_runs(tmp_path):
    result = run_cli(
        ["-m", "experiment=glob(seed_*)", *TINY],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (tmp_path / "outputs" / "train" / "multiruns").iterdir()
    assert len([p for p in sweep_dir.iterdir() if p.is_dir()]) == 8


def test_seed_runs_carry_the_reports_own_accuracy(tmp_path):
    from fer_lightning.runs.results import REPORT_ACCURACY, run_row

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "final_metrics.json").write_text(json.dumps({"test/acc": 0.6, "epochs": 30}))
    (run / ".hydra" / "config.yaml").write_text("seed: 1\noptimizer: {lr: 0.001}\n")
    choices = {"experiment": "seed_emo5", "model": "emo5", "aug": "colorjitter"}
    OmegaConf.save({"hydra": {"runtime": {"choices": choices}}}, run / ".hydra" / "hydra.yaml")
    row = run_row(run)
    assert row["report_acc"] == REPORT_ACCURACY["seed_emo5"] == 0.62
    assert row["experiment"] == "seed_emo5" and row["test_acc"] == 0.6


@pytest.mark.e2e
def test_a_run_folder_given_alone_is_named_and_its_cpu_plainly(sweep, tmp_path):
    from fer_lightning.runs.results import hardware

    report_main([str(sweep / "1"), "--out", str(tmp_path)])
    assert pd.read_csv(tmp_path / "results.csv")["run"].astype(str).tolist() == ["1"]
    info = tmp_path / "run" / ".hydra" / "run_info.json"
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"machine": {"cpu": "Intel(R) Xeon(R) Processor", "cpus": 2}}))
    assert hardware(tmp_path / "run") == "Intel Xeon Processor, 2 cores"


def test_a_run_resumed_by_a_newer_version_has_its_whole_loss_curve(tmp_path):
    """Epochs logged as train/loss_epoch, then (after a resume) as train/loss: one series."""
    pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "step": [10, 20, 30],
            "train/loss_epoch": [1.5, 1.3, None],
            "train/loss": [None, None, 1.1],
            "val/acc": [0.3, 0.4, 0.5],
        }
    ).to_csv(tmp_path / "metrics.csv", index=False)
    curves = epoch_curves(tmp_path)
    assert curves["train_loss"].tolist() == [1.5, 1.3, 1.1]
    assert curves["val_acc"].tolist() == [0.3, 0.4, 0.5]


def test_labels_tell_runs_of_one_configuration_apart():
    table = pd.DataFrame(
        {
            "experiment": ["fer_cpu", "fer_cpu", "seed_emo1", "seed_emo1"],
            "model": ["compact_vgg", "compact_vgg", "emo1", "emo1"],
            "aug": ["fer_cpu", "fer_cpu", "colorjitter", "colorjitter"],
            "scheduler": ["onecycle", "onecycle", "step/10", "step/10"],
            "seed": [42, 43, 42, 42],
            "precision": ["bf16-mixed", "bf16-mixed", "bf16-mixed", "32-true"],
        }
    )
    assert run_labels(table)[0] == "fer_cpu/fer_cpu/onecycle seed 42"
    ablation = table.assign(overrides=[None, None, None, "~callbacks.ema"])
    assert run_labels(ablation)[2:] == [
        "seed_emo1/colorjitter/step/10",
        "seed_emo1/colorjitter/step/10 ~callbacks.ema",
    ]
    with_ferplus = table.assign(labels=["fer2013", "fer2013", "fer2013", "ferplus/majority"])
    assert run_labels(with_ferplus)[3] == "seed_emo1/colorjitter/step/10 (ferplus/majority labels)"
    assert run_labels(table) == [
        "fer_cpu/fer_cpu/onecycle seed 42",
        "fer_cpu/fer_cpu/onecycle seed 43",
        "seed_emo1/colorjitter/step/10 bf16-mixed",
        "seed_emo1/colorjitter/step/10 32-true",
    ]


def test_an_ablations_change_is_its_own_column(tmp_path):
    (tmp_path / ".hydra").mkdir()
    overrides = ["experiment=fer_cpu", "data.path=/x.csv", "~callbacks.ema", "seed=42"]
    # Where it ran and wrote, not what it learned: the GPU check's plumbing is not shown.
    overrides += ["trainer=gpu", "data.on_device=true", "paths.log_dir=/tmp/r", "logger=default"]
    OmegaConf.save(
        OmegaConf.create([*overrides, "loss.label_smoothing=0"]),
        tmp_path / ".hydra" / "overrides.yaml",
    )
    assert other_overrides(tmp_path) == "~callbacks.ema loss.label_smoothing=0"
    OmegaConf.save(OmegaConf.create(overrides[:2]), tmp_path / ".hydra" / "overrides.yaml")
    assert other_overrides(tmp_path) is None


@pytest.mark.e2e
def test_a_run_stopped_by_max_time_is_kept_out_of_the_results_table(tmp_path):
    """A run cut short (trainer.max_time) is not its recipe's figure: results.md shows it in a
    table of its own, below the results table."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    args = [*TINY_RUN, "logger=default", "trainer.max_epochs=200", "trainer.max_time=00:00:00:01"]
    result = run_cli(args, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = cwd / "outputs" / "train" / "runs"
    report_main([str(runs), "--out", str(tmp_path / "report")])
    table = pd.read_csv(tmp_path / "report" / "results.csv")
    (row,) = table.itertuples()
    assert row.epochs < row.max_epochs == 200
    assert "trainer.max_time=00:00:00:01" in row.overrides and "logger=" not in row.overrides
    text = (tmp_path / "report" / "results.md").read_text()
    results, stopped = text.split("Stopped before their configured end")
    assert results.strip() == "No run reached its end." and row.run not in results
    assert f"| {row.run} |" in stopped and "Test recall" not in stopped


@pytest.mark.e2e
def test_report_fills_its_block_of_a_readme_and_nothing_else(sweep, tmp_path):
    readme = tmp_path / "README.md"
    before = "# Title\n\nText before.\n\n<!-- begin report results -->\n"
    after = "<!-- end report results -->\n\nText after.\n"
    readme.write_text(before + "| stale | table |\n" + after)
    readme.chmod(0o644)
    report_main([str(sweep), "--out", str(tmp_path / "out"), "--into", f"{readme}#results"])
    text = readme.read_text()
    assert text.startswith(before) and text.endswith(after) and "stale" not in text
    tables = (tmp_path / "out" / "results.md").read_text().strip()
    assert f"{before}\n{tables}\n\n{after}" == text
    assert readme.stat().st_mode & 0o777 == 0o644
    # Filling it again gives the same document: the block's markers stay, nothing piles up.
    report_main([str(sweep), "--out", str(tmp_path / "out"), "--into", f"{readme}#results"])
    assert readme.read_text() == text


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("document", "target", "message"),
    [
        ("no markers\n", "README.md#results", "needs the lines '<!-- begin report results -->'"),
        ("<!-- begin report other -->\n<!-- end report other -->\n", "README.md#results", "needs"),
        ("<!-- end report r -->\n<!-- begin report r -->\n", "README.md#r", "comes before"),
        (
            "",
            "README.md",
            "README.md#results, with the lines '<!-- begin report results -->'",
        ),
        (None, "missing.md#results", "missing.md is not a file"),
    ],
)
def test_a_readme_without_its_block_is_one_line_and_left_alone(
    sweep, tmp_path, monkeypatch, capsys, document, target, message
):
    monkeypatch.chdir(tmp_path)
    if document is not None:
        (tmp_path / "README.md").write_text(document)
    with pytest.raises(SystemExit) as exit_info:
        report_main([str(sweep), "--out", str(tmp_path / "out"), "--into", target])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --into ") and message in err and err.count("\n") == 1
    if document is not None:
        assert (tmp_path / "README.md").read_text() == document
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".README")] == []


@pytest.mark.e2e
def test_the_ledger_keeps_runs_whose_folders_are_gone(sweep, tmp_path):
    """A README regenerated on a machine that lacks some runs' folders keeps their rows, and a
    run read now replaces its own (stale) row."""
    ledger = tmp_path / "docs" / "results.csv"
    report_main([str(sweep), "--out", str(tmp_path / "a"), "--ledger", str(ledger)])
    first = pd.read_csv(ledger, dtype={"run": str})
    assert sorted(first.run) == ["0", "1", "2", "3"]
    gone = first.iloc[[0]].assign(run="2026-01-01_00-00-00_gone_p1", test_acc=0.5, seed=None)
    stale = first.assign(test_acc=first.test_acc.where(first.run != "1", 0.123))
    pd.concat([gone, stale]).drop(columns=["report_acc"], errors="ignore").to_csv(
        ledger, index=False
    )

    report_main([str(sweep), "--out", str(tmp_path / "b"), "--ledger", str(ledger)])
    merged = pd.read_csv(ledger, dtype={"run": str})
    # In run-name order, which is start-time order for runs named by time.
    assert list(merged.run) == ["0", "1", "2", "2026-01-01_00-00-00_gone_p1", "3"]
    assert merged.set_index("run").test_acc.to_dict() == pytest.approx(
        {**first.set_index("run").test_acc.to_dict(), "2026-01-01_00-00-00_gone_p1": 0.5}
    )
    assert list(merged.columns) == list(first.columns)
    text = (tmp_path / "b" / "results.md").read_text()
    header, _, *rows = [
        [c.strip() for c in line.split("|")] for line in text.split("\n\n")[0].splitlines()
    ]
    cells = {row[1]: row[header.index("seed")] for row in rows}
    # The seed the ledger lacks is blank, and whole numbers stay whole beside it (not 42.0000).
    assert cells["2026-01-01_00-00-00_gone_p1"] == "" and cells["0"] == "42"
    # With no run folders at all, the ledger alone redraws the same tables.
    report_main(["--ledger", str(ledger), "--out", str(tmp_path / "c")])
    assert (tmp_path / "c" / "results.md").read_text() == text
    assert pd.read_csv(ledger, dtype={"run": str}).equals(merged)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "content", ["a,b\n1,2\n", "run,test_acc\nx,0.5\nx,0.6\n", "run,test_acc\n,0.5\n", "\x00\x01"]
)
def test_a_ledger_that_is_not_one_is_one_line_and_left_alone(sweep, tmp_path, capsys, content):
    ledger = tmp_path / "results.csv"
    ledger.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        report_main([str(sweep), "--out", str(tmp_path / "out"), "--ledger", str(ledger)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --ledger {ledger}: ") and err.count("\n") == 1
    assert "restore it from git" in err and ledger.read_text() == content
