"""Misclassified in a short real run: the grid of confidently wrong test faces, and its list."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fer_lightning.callbacks.misclassified import Misclassified
from fer_lightning.data.datamodule import FERDataModule
from fer_lightning.data.labels import EMOTIONS
from fer_lightning.train import train

COUNT = 64  # at least the faces tested: every wrong one is listed (top-k: a test below)
SHORT = [
    "data=synthetic",
    "data.synthetic_size=420",
    "data.batch_size=32",
    "data.eval_batch_size=16",  # several test batches from the 42 test faces
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "callbacks=minimal",
    "+callbacks.misclassified._target_=fer_lightning.callbacks.misclassified.Misclassified",
    "+callbacks.misclassified.output_dir=${paths.output_dir}",
    f"+callbacks.misclassified.count={COUNT}",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests.conftest import compose_train

    tmp = tmp_path_factory.mktemp("misclassified")
    metrics = train(compose_train(SHORT, tmp))
    return tmp / "run", metrics


def test_grid_is_a_valid_png(run):
    with Image.open(run[0] / "misclassified_test.png") as image:
        assert image.format == "PNG" and image.size[0] > 800 and image.size[1] > 250
        assert np.asarray(image.convert("L")).std() > 10  # not blank


def test_list_holds_the_most_confident_wrong_faces_of_the_test_split(run):
    run_dir, metrics = run
    table = pd.read_csv(run_dir / "misclassified_test.csv")
    assert list(table.columns) == ["index", "true", "pred", "confidence"]
    test = FERDataModule(source="synthetic", synthetic_size=420, batch_size=32).dataset("test")
    n = min(len(test), 2 * 16)
    wrong = round((1 - metrics["test/acc"]) * n)
    assert len(table) == wrong > 0
    assert table["index"].max() >= 16  # the second test batch counted on from the first
    assert (table["true"] != table["pred"]).all()
    assert table["confidence"].is_monotonic_decreasing
    assert table["confidence"].between(1 / len(EMOTIONS), 1).all()
    assert table["index"].between(0, n - 1).all() and table["index"].is_unique
    # The recorded indices point at the faces of the test split with that true label.
    labels = [EMOTIONS[k] for k in test.labels[table["index"].to_numpy()].tolist()]
    assert labels == table["true"].tolist()


def test_grid_in_tensorboard(run):
    acc = EventAccumulator(str(run[0] / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    assert "test/misclassified" in acc.Tags()["images"]
    assert len(acc.Images("test/misclassified")) == 1


def test_keeps_the_most_confident_wrong_answers_across_batches():
    """The running top-``count`` over batches equals the top of all the wrong answers."""
    torch.manual_seed(0)
    callback = Misclassified("unused", count=5)
    trainer, module = SimpleNamespace(), SimpleNamespace(class_names=EMOTIONS)
    callback.on_test_epoch_start(trainer, module)
    probs = torch.rand(50, 7).softmax(dim=-1)
    labels = torch.randint(0, 7, (50,))
    for i, start in enumerate(range(0, 50, 16)):  # batches of 16, 16, 16 and 2
        outputs = {"probs": probs[start : start + 16], "labels": labels[start : start + 16]}
        callback.on_test_batch_end(trainer, module, outputs, None, i)
    confidence, pred = probs.max(dim=-1)
    wrong = torch.nonzero(pred != labels).squeeze(1)
    expected = wrong[confidence[wrong].argsort(descending=True)[:5]]
    assert callback._index.tolist() == expected.tolist()
    assert callback._true.tolist() == labels[expected].tolist()
    assert callback._pred.tolist() == pred[expected].tolist()
    assert callback._seen == 50 and callback._wrong == len(wrong)
