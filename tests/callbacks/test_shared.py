"""EpochPredictions: a subclass gets each split's predictions whole, once per epoch, in order."""

from functools import partial

import lightning as L
import pytest
import torch

from fer_lightning.callbacks.shared import EpochPredictions
from fer_lightning.models import EmoCNN
from fer_lightning.training.module import EmotionClassifier
from tests.helpers.runs import tiny_data

pytestmark = pytest.mark.e2e  # every test here trains or runs a command


class Recorder(EpochPredictions):
    """Keeps every call of ``on_predictions``: (stage, epoch, sanity check?, probs, labels)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def on_predictions(self, trainer, pl_module, stage, probs, labels) -> None:
        self.calls.append((stage, trainer.current_epoch, trainer.sanity_checking, probs, labels))


class OnlyTestSplit(Recorder):
    stages = ("test",)


def test_each_split_arrives_whole_once_per_epoch_and_not_from_the_sanity_check(tmp_path):
    dm = tiny_data()
    model = EmotionClassifier(EmoCNN(), optimizer=partial(torch.optim.Adam, lr=1e-3))
    every, test_only = Recorder(), OnlyTestSplit()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=2,
        num_sanity_val_steps=2,  # two validation batches before training: not collected
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[every, test_only],
    )
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm)

    assert [(stage, epoch) for stage, epoch, *_ in every.calls] == [
        ("val", 0),
        ("val", 1),
        ("test", 2),
    ]
    assert [stage for stage, *_ in test_only.calls] == ["test"]
    assert not any(sanity for _, _, sanity, _, _ in every.calls)

    # The last validation and the test ran on the final weights: each split, all of its
    # batches (16 + 12 faces) in order, is what the network gives it in one pass.
    model.eval()
    for stage, _, _, probs, labels in every.calls[1:]:
        data = dm.dataset(stage)
        assert labels.dtype == torch.int64 and torch.equal(labels, data.labels)
        x = dm.preprocess(data.images, data.labels, train=False)[0]
        with torch.no_grad():
            expected = model(x).softmax(dim=-1)
        assert probs.dtype == torch.float32 and probs.is_cpu
        torch.testing.assert_close(probs, expected)
    first_epoch_labels = every.calls[0][4]
    assert torch.equal(first_epoch_labels, dm.dataset("val").labels)  # no sanity rows in it
    torch.testing.assert_close(test_only.calls[0][3], every.calls[2][3])
