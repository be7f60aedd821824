"""ClassMetrics in a short real run: PR curves, metrics.csv per epoch, the test report."""

import json
from functools import partial

import lightning as L
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from fer_lightning.callbacks.class_metrics import (
    ClassMetrics,
    classification_report,
    metrics_columns,
    write_metrics_row,
)
from fer_lightning.data.datamodule import FERDataModule
from fer_lightning.data.labels import EMOTIONS
from fer_lightning.models import EmoCNN
from fer_lightning.train import train
from fer_lightning.training.module import EmotionClassifier

SHORT = [
    "data=synthetic",
    "data.synthetic_size=420",
    "data.batch_size=32",
    "data.eval_batch_size=16",
    "trainer=cpu",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "callbacks=minimal",
    "+callbacks.class_metrics._target_=fer_lightning.callbacks.class_metrics.ClassMetrics",
    "+callbacks.class_metrics.output_dir=${paths.output_dir}",
]


DATA = partial(FERDataModule, source="synthetic", synthetic_size=420, batch_size=32)


def split_size(name: str) -> int:
    """Faces the run validates or tests on: the synthetic split, at most 2 batches of 16."""
    return min(len(DATA().dataset(name)), 2 * 16)


def n_test_faces() -> int:
    return split_size("test")


def n_val_faces() -> int:
    return split_size("val")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests.conftest import compose_train

    tmp = tmp_path_factory.mktemp("class_metrics")
    metrics = train(compose_train([*SHORT, "trainer.max_epochs=2"], tmp))
    acc = EventAccumulator(
        str(tmp / "run" / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0}
    )
    acc.Reload()
    return tmp, metrics, acc


def test_metrics_csv_has_one_row_per_epoch_matching_the_logged_scalars(run):
    tmp, _, acc = run
    table = pd.read_csv(tmp / "run" / "metrics.csv")
    assert list(table.columns) == metrics_columns(EMOTIONS)
    assert {"val_recall_fear", "val_f1_disgust", "val_precision_neutral"} <= set(table.columns)
    assert table["epoch"].tolist() == [0, 1]
    assert table.notna().all().all()  # train_loss and val_loss of each epoch filled in
    # The callback computes its own numbers; they agree with what the module logs per epoch.
    pairs = {
        "val_acc": "val/acc",
        "val_f1": "val/f1",
        "val_loss": "val/loss",
        "train_loss": "train/loss_epoch",
        "val_recall_fear": "val/recall/fear",
        "val_precision_happy": "val/precision/happy",
        "val_f1_neutral": "val/f1/neutral",
    }
    for column, tag in pairs.items():
        logged = [event.value for event in acc.Scalars(tag)]
        assert table[column].tolist() == pytest.approx(logged, abs=1e-5), column


def test_pr_curves_per_class_and_epoch_without_the_sanity_check(run):
    _, _, acc = run
    tags = {f"val_pr/{name}" for name in EMOTIONS}
    assert tags <= set(acc.Tags()["tensors"])
    assert tags <= set(acc.PluginTagToContent("pr_curves"))
    positives = 0
    for tag in sorted(tags):
        # Steps 0 and 1 once each: the sanity-check validation is not logged.
        events = acc.Tensors(tag)
        assert [event.step for event in events] == [0, 1]
        # Rows: TP, FP, TN, FN, precision, recall per threshold; at threshold 0 all are positive.
        curve = tensor_util.make_ndarray(events[-1].tensor_proto)
        assert curve.shape[0] == 6
        positives += curve[0, 0]
        assert curve[2, 0] == curve[3, 0] == 0  # no negatives (TN, FN) at threshold 0
    assert positives == n_val_faces()  # each validation face is a positive of one class


def test_classification_report_files_and_tensorboard_text(run):
    tmp, metrics, acc = run
    report = pd.read_csv(tmp / "run" / "test_classification_report.csv", index_col="class")
    assert list(report.columns) == ["precision", "recall", "f1", "support"]
    assert list(report.index) == [*EMOTIONS, "accuracy", "macro avg", "weighted avg"]
    n = n_test_faces()
    assert report.loc[list(EMOTIONS), "support"].sum() == n
    assert (report.loc[["accuracy", "macro avg", "weighted avg"], "support"] == n).all()
    # Agrees with the module's own test metrics (the best checkpoint's).
    assert report.loc["accuracy", "f1"] == pytest.approx(metrics["test/acc"], abs=1e-5)
    assert report.loc["macro avg", "f1"] == pytest.approx(metrics["test/f1"], abs=1e-5)
    assert report.loc["fear", "recall"] == pytest.approx(metrics["test/recall/fear"], abs=1e-5)
    saved = json.loads((tmp / "run" / "final_metrics.json").read_text())
    assert saved["test/acc"] == pytest.approx(report.loc["accuracy", "f1"], abs=1e-5)

    lines = (tmp / "run" / "test_classification_report.txt").read_text().splitlines()
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


def fit(run_dir, max_epochs, ckpt_path=None):
    """A plain Lightning fit with ClassMetrics, independent of the entry point's resume rules."""
    model = EmotionClassifier(EmoCNN(), optimizer=partial(torch.optim.Adam, lr=1e-3))
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=max_epochs,
        limit_train_batches=2,
        limit_val_batches=2,
        num_sanity_val_steps=0,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[
            ClassMetrics(str(run_dir), pr_curves=False),
            ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True),
        ],
    )
    trainer.fit(model, datamodule=DATA(), ckpt_path=ckpt_path)


def test_resumed_run_continues_metrics_csv_without_duplicates(tmp_path):
    fit(tmp_path, max_epochs=1)
    before = pd.read_csv(tmp_path / "metrics.csv")
    assert before["epoch"].tolist() == [0]
    fit(tmp_path, max_epochs=2, ckpt_path=tmp_path / "checkpoints" / "last.ckpt")
    after = pd.read_csv(tmp_path / "metrics.csv")
    # The new epoch is appended, the earlier one kept; had Lightning finished the checkpoint's
    # epoch again on resuming, its row would have been replaced, not duplicated.
    assert after["epoch"].tolist() == [0, 1]
    pd.testing.assert_frame_equal(after.iloc[:1], before)
    assert after["val_loss"].notna().all() and after["train_loss"].notna().all()


def test_write_metrics_row_replaces_the_epoch_and_later_ones(tmp_path):
    path, columns = tmp_path / "metrics.csv", ["epoch", "train_loss", "val_acc"]
    for epoch in range(3):
        write_metrics_row(
            path, {"epoch": epoch, "train_loss": None, "val_acc": 0.1 * epoch}, columns
        )
    # The validation row first (no train loss yet), then the same epoch completed.
    write_metrics_row(path, {"epoch": 2, "train_loss": 1.5, "val_acc": 0.2}, columns)
    table = pd.read_csv(path)
    assert table["epoch"].tolist() == [0, 1, 2]
    assert table["train_loss"].tolist()[2] == 1.5 and table["train_loss"].isna().sum() == 2
    # Resumed from epoch 1's checkpoint: epoch 1 is rewritten, the abandoned epoch 2 dropped.
    write_metrics_row(path, {"epoch": 1, "train_loss": 9.0, "val_acc": 0.9}, columns)
    table = pd.read_csv(path)
    assert table["epoch"].tolist() == [0, 1]
    assert table.loc[1, "val_acc"] == 0.9
    assert not list(tmp_path.glob(".*.tmp"))


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
