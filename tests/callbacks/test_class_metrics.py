"""ClassMetrics in a short real run: PR curves, the test report; the run's one metrics.csv."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from fer_lightning.callbacks.class_metrics import classification_report
from fer_lightning.data.labels import EMOTIONS
from tests.helpers.runs import events_dir, tiny_data, train_tiny

# Two epochs of the tiny run, with its loggers: TensorBoard and the CSV logger's metrics.csv.
SHORT = [
    "trainer.max_epochs=2",
    "logger=default",
    "+callbacks.class_metrics._target_=fer_lightning.callbacks.class_metrics.ClassMetrics",
    "+callbacks.class_metrics.output_dir=${paths.output_dir}",
]


def split_size(name: str) -> int:
    """Faces the run validates or tests on: the whole synthetic split."""
    return len(tiny_data().dataset(name))


def n_test_faces() -> int:
    return split_size("test")


def n_val_faces() -> int:
    return split_size("val")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tiny = train_tiny(tmp_path_factory.mktemp("class_metrics"), *SHORT)
    acc = EventAccumulator(str(events_dir(tiny.dir)), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return tiny.dir, tiny.metrics, acc


@pytest.mark.e2e
def test_one_metrics_csv_at_the_run_root_with_a_val_row_per_epoch(run):
    """The CSV logger's table is the run's only metrics.csv (ClassMetrics keeps none of its
    own); its validation rows, one per epoch, hold what TensorBoard got, per class too."""
    run_dir, _, acc = run
    assert [p.relative_to(run_dir) for p in run_dir.rglob("metrics.csv")] == [Path("metrics.csv")]
    table = pd.read_csv(run_dir / "metrics.csv")
    val = table.dropna(subset=["val/acc"])
    assert val["epoch"].tolist() == [0, 1]
    per_class = [
        f"val/{score}/{name}" for score in ("precision", "recall", "f1") for name in EMOTIONS
    ]
    assert val[["val/loss", "val/f1", *per_class]].notna().all().all()
    for tag in ("val/acc", "val/f1", "val/loss", "val/recall/fear", "val/precision/happy"):
        logged = [event.value for event in acc.Scalars(tag)]
        assert val[tag].tolist() == pytest.approx(logged, abs=1e-5), tag
    train = table.dropna(subset=["train/loss"])
    assert train["epoch"].tolist() == [0, 1]
    logged = [event.value for event in acc.Scalars("train/loss")]
    assert train["train/loss"].tolist() == pytest.approx(logged, abs=1e-5)


@pytest.mark.e2e
def test_pr_curves_per_class_and_epoch_without_the_sanity_check(run):
    _, _, acc = run
    tags = {f"val/pr/{name}" for name in EMOTIONS}
    assert tags <= set(acc.Tags()["tensors"])
    assert tags <= set(acc.PluginTagToContent("pr_curves"))
    positives = 0
    for tag in sorted(tags):
        # Once per epoch, at the step of the epoch's scalars: the sanity check is not logged.
        events = acc.Tensors(tag)
        assert [event.step for event in events] == [e.step for e in acc.Scalars("val/acc")]
        # Rows: TP, FP, TN, FN, precision, recall per threshold; at threshold 0 all are positive.
        curve = tensor_util.make_ndarray(events[-1].tensor_proto)
        assert curve.shape[0] == 6
        positives += curve[0, 0]
        assert curve[2, 0] == curve[3, 0] == 0  # no negatives (TN, FN) at threshold 0
    assert positives == n_val_faces()  # each validation face is a positive of one class


@pytest.mark.e2e
def test_classification_report_files_and_tensorboard_text(run):
    run_dir, metrics, acc = run
    report = pd.read_csv(run_dir / "test_classification_report.csv", index_col="class")
    assert list(report.columns) == ["precision", "recall", "f1", "support"]
    assert list(report.index) == [*EMOTIONS, "accuracy", "macro avg", "weighted avg"]
    n = n_test_faces()
    assert report.loc[list(EMOTIONS), "support"].sum() == n
    assert (report.loc[["accuracy", "macro avg", "weighted avg"], "support"] == n).all()
    # Agrees with the module's own test metrics (the best checkpoint's).
    assert report.loc["accuracy", "f1"] == pytest.approx(metrics["test/acc"], abs=1e-5)
    assert report.loc["macro avg", "f1"] == pytest.approx(metrics["test/f1"], abs=1e-5)
    assert report.loc["fear", "recall"] == pytest.approx(metrics["test/recall/fear"], abs=1e-5)
    saved = json.loads((run_dir / "final_metrics.json").read_text())
    assert saved["test/acc"] == pytest.approx(report.loc["accuracy", "f1"], abs=1e-5)

    lines = (run_dir / "test_classification_report.txt").read_text().splitlines()
    assert lines[0].split() == ["precision", "recall", "f1", "support"]
    rows = [line for line in lines if line.strip()]
    assert len(rows) == 1 + 7 + 3
    assert len({len(line) for line in rows if "accuracy" not in line}) == 1  # aligned columns
    assert rows[-1].split()[:2] == ["weighted", "avg"] and rows[-1].split()[-1] == str(n)

    assert "test/classification_report/text_summary" in acc.Tags()["tensors"]
    (event,) = acc.Tensors("test/classification_report/text_summary")
    text = event.tensor_proto.string_val[0].decode()
    assert "| class | precision | recall | f1 | support |" in text
    assert all(f"| {name} |" in text for name in EMOTIONS)


def test_classification_report_on_known_predictions():
    names = ("a", "b", "c")
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    preds = torch.tensor([0, 0, 1, 1, 2, 2])
    probs = torch.nn.functional.one_hot(preds, 3).float()
    report = classification_report(probs, labels, names)
    assert report.loc["a", "precision"] == pytest.approx(1.0)
    assert report.loc["a", "recall"] == pytest.approx(2 / 3)
    assert report.loc["b", "f1"] == pytest.approx(0.5)
    assert report.loc["c", "precision"] == pytest.approx(0.5)
    assert report["support"].tolist() == [3, 2, 1, 6, 6, 6]
    assert report.loc["accuracy", "f1"] == pytest.approx(4 / 6)
    assert report.loc["macro avg", "recall"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    weighted = (3 * report.loc["a", "f1"] + 2 * 0.5 + 1 * report.loc["c", "f1"]) / 6
    assert report.loc["weighted avg", "f1"] == pytest.approx(weighted)
