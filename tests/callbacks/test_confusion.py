"""ConfusionMatrix in a short real run: TensorBoard figures, best and test PNGs, test counts."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.trainer.states import TrainerFn
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fer_lightning.callbacks.confusion import ConfusionMatrix
from fer_lightning.data.labels import EMOTIONS
from fer_lightning.plots.predictions import confusion_figure
from tests.helpers.runs import events_dir, tiny_data, train_tiny

# Two epochs; the 28 test faces in two batches of 16 and 12.
SHORT = [
    "trainer.max_epochs=2",
    "logger=default",
    "+callbacks.confusion._target_=fer_lightning.callbacks.confusion.ConfusionMatrix",
    "+callbacks.confusion.output_dir=${paths.output_dir}",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tiny = train_tiny(tmp_path_factory.mktemp("confusion"), *SHORT)
    acc = EventAccumulator(str(events_dir(tiny.dir)), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return tiny.dir, tiny.metrics, acc


def assert_picture(path):
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 800 and image.size[1] > 400
        assert np.asarray(image.convert("L")).std() > 10  # not blank


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["confusion_matrix_best", "confusion_matrix_test"])
def test_pictures_are_valid_png_files(run, name):
    assert_picture(run[0] / f"{name}.png")


@pytest.mark.e2e
def test_test_counts_csv(run):
    run_dir, metrics, _ = run
    table = pd.read_csv(run_dir / "confusion_matrix_test.csv", index_col="true")
    assert list(table.index) == list(EMOTIONS) and list(table.columns) == list(EMOTIONS)
    test = tiny_data().dataset("test")
    n = len(test)
    assert table.to_numpy().sum() == n
    # Rows are the true classes: their sums are the class counts of the faces tested.
    true_counts = torch.bincount(test.labels, minlength=len(EMOTIONS)).tolist()
    assert table.sum(axis=1).tolist() == true_counts
    assert np.trace(table.to_numpy()) / n == pytest.approx(metrics["test/acc"], abs=1e-6)


@pytest.mark.e2e
def test_figures_in_tensorboard_every_epoch_without_the_sanity_check(run):
    run_dir, _, acc = run
    images = acc.Tags()["images"]
    assert {"val/confusion_matrix", "test/confusion_matrix"} <= set(images)
    val_steps = [event.step for event in acc.Scalars("val/acc")]
    assert [event.step for event in acc.Images("val/confusion_matrix")] == val_steps
    assert len(acc.Images("test/confusion_matrix")) == 1
    # The best accuracy the callback tracked (kept in the checkpoint) is the best val/acc.
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]
    (best,) = [s["best_acc"] for key, s in state.items() if key.startswith("ConfusionMatrix")]
    assert best == pytest.approx(max(e.value for e in acc.Scalars("val/acc")), abs=1e-6)


def fake_trainer(epoch, sanity=False):
    """What the validation hooks read of a Trainer (the real loop is tested above)."""
    return SimpleNamespace(
        current_epoch=epoch,
        sanity_checking=sanity,
        state=SimpleNamespace(fn=TrainerFn.FITTING),
        loggers=[],
    )


def run_epoch(callback, trainer, module, probs, labels):
    callback.on_validation_epoch_start(trainer, module)
    callback.on_validation_batch_end(trainer, module, {"probs": probs, "labels": labels}, None, 0)
    callback.on_validation_epoch_end(trainer, module)


def test_every_n_epochs_and_best_only_when_better(tmp_path, monkeypatch):
    callback = ConfusionMatrix(str(tmp_path), every_n_epochs=2)
    written = []
    monkeypatch.setattr(
        callback,
        "_write_val",
        lambda trainer, counts, names, acc, best, log_now: written.append((acc, best, log_now)),
    )
    module = SimpleNamespace(class_names=EMOTIONS)
    labels = torch.arange(7)
    right = torch.nn.functional.one_hot(labels, 7).float()
    wrong = right.roll(1, dims=1)
    half = torch.where(labels[:, None] < 3, right, wrong)
    # The sanity check's (perfect) answers do not count.
    run_epoch(callback, fake_trainer(0, sanity=True), module, right, labels)
    for epoch, probs in enumerate([half, wrong, right, wrong]):
        run_epoch(callback, fake_trainer(epoch), module, probs, labels)
    assert written == [
        (3 / 7, True, False),  # epoch 0: the first is the best so far
        (0.0, False, True),  # epoch 1: logged (every 2nd epoch), not better
        (1.0, True, False),  # epoch 2: best
        (0.0, False, True),  # epoch 3
    ]
    assert callback.state_dict() == {"best_acc": 1.0}


def test_confusion_figure_has_both_panels_with_class_names():
    counts = np.arange(49).reshape(7, 7)
    fig = confusion_figure(counts, EMOTIONS, "title")
    counts_ax, recall_ax = fig.axes[:2]
    assert [t.get_text() for t in counts_ax.get_xticklabels()] == list(EMOTIONS)
    assert [t.get_text() for t in recall_ax.get_yticklabels()] == list(EMOTIONS)
    assert len(fig.axes) == 4  # two matrices, two colour bars
    assert counts_ax.texts[8].get_text() == "8"
    row = counts[1] / counts[1].sum()
    assert recall_ax.texts[8].get_text() == f"{row[1]:.2f}"
