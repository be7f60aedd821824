"""Misclassified in a short real run: the grid of confidently wrong test faces, and its list."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fer_lightning.callbacks.misclassified import Misclassified
from fer_lightning.data.labels import EMOTIONS
from tests.helpers.runs import events_dir, tiny_data, train_tiny

COUNT = 64  # at least the faces tested: every wrong one is listed (top-k: a test below)
# The 28 test faces in two batches of 16 and 12.
SHORT = [
    "logger=default",
    "+callbacks.misclassified._target_=fer_lightning.callbacks.misclassified.Misclassified",
    "+callbacks.misclassified.output_dir=${paths.output_dir}",
    f"+callbacks.misclassified.count={COUNT}",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tiny = train_tiny(tmp_path_factory.mktemp("misclassified"), *SHORT)
    return tiny.dir, tiny.metrics


@pytest.mark.e2e
def test_grid_is_a_valid_png(run):
    with Image.open(run[0] / "misclassified_test.png") as image:
        assert image.format == "PNG" and image.size[0] > 800 and image.size[1] > 250
        assert np.asarray(image.convert("L")).std() > 10  # not blank


@pytest.mark.e2e
def test_list_holds_the_most_confident_wrong_faces_of_the_test_split(run):
    run_dir, metrics = run
    table = pd.read_csv(run_dir / "misclassified_test.csv")
    assert list(table.columns) == ["index", "true", "pred", "confidence"]
    test = tiny_data().dataset("test")
    n = len(test)
    wrong = round((1 - metrics["test/acc"]) * n)
    assert len(table) == wrong > 0
    assert table["index"].max() >= 16  # the second test batch counted on from the first
    assert (table["true"] != table["pred"]).all()
    assert table["confidence"].is_monotonic_decreasing
    assert table["confidence"].between(1 / len(EMOTIONS), 1).all()
    assert table["index"].between(0, n - 1).all() and table["index"].is_unique
    # The recorded indices point at the faces of the test split with that true label.
    labels = [EMOTIONS[k] for k in test.labels[table["index"].tolist()].tolist()]
    assert labels == table["true"].tolist()


@pytest.mark.e2e
def test_grid_in_tensorboard(run):
    acc = EventAccumulator(str(events_dir(run[0])), size_guidance={"images": 0})
    acc.Reload()
    assert "test/misclassified" in acc.Tags()["images"]
    assert len(acc.Images("test/misclassified")) == 1


def run_test_epoch(callback, dm, probs, labels, batch=16):
    """The test loop's hooks, batch by batch, with a data module whose test split is real."""
    trainer = SimpleNamespace(world_size=1, datamodule=dm, loggers=[], global_step=0)
    module = SimpleNamespace(class_names=EMOTIONS)
    callback.on_test_epoch_start(trainer, module)
    for i, start in enumerate(range(0, len(labels), batch)):
        outputs = {"probs": probs[start : start + batch], "labels": labels[start : start + batch]}
        callback.on_test_batch_end(trainer, module, outputs, None, i)
    callback.on_test_epoch_end(trainer, module)


def test_keeps_the_most_confident_wrong_answers_across_batches(tmp_path):
    """The top ``count`` of the whole split's wrong answers, whichever batch they came in."""
    torch.manual_seed(0)
    dm = tiny_data()
    labels = dm.dataset("test").labels
    probs = torch.rand(len(labels), 7).softmax(dim=-1)
    run_test_epoch(Misclassified(str(tmp_path), count=5), dm, probs, labels)
    confidence, pred = probs.max(dim=-1)
    wrong = torch.nonzero(pred != labels).squeeze(1)
    expected = wrong[confidence[wrong].argsort(descending=True)[:5]]
    table = pd.read_csv(tmp_path / "misclassified_test.csv")
    assert table["index"].tolist() == expected.tolist()
    assert table["true"].tolist() == [EMOTIONS[k] for k in labels[expected]]
    assert table["pred"].tolist() == [EMOTIONS[k] for k in pred[expected]]
    assert table["confidence"].tolist() == pytest.approx(confidence[expected].tolist())


def test_a_test_loop_cut_short_lists_the_faces_it_tested(tmp_path):
    """With limit_test_batches the tested faces are the first of the split, in order."""
    dm = tiny_data()
    labels = dm.dataset("test").labels[:16]
    probs = torch.nn.functional.one_hot((labels + 1) % 7, 7).float()  # every answer wrong
    run_test_epoch(Misclassified(str(tmp_path), count=5), dm, probs, labels)
    table = pd.read_csv(tmp_path / "misclassified_test.csv")
    assert len(table) == 5 and table["index"].between(0, 15).all()
