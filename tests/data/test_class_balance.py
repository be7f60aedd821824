"""Options against class imbalance: a balanced sampler and inverse-frequency loss weights."""

import numpy as np
import pytest
import torch

from fer_lightning.data import FERDataModule
from fer_lightning.errors import UserError
from fer_lightning.training.fit import build_module, class_weights
from tests.helpers.fer_csv import csv_text, fer_rows


@pytest.fixture
def imbalanced_csv(write_csv):
    images, _, _ = fer_rows(700, seed=11)
    labels = np.full(700, 3)  # happy dominates ...
    labels[:70] = np.arange(70) % 7  # ... ten of each class besides
    usage = np.zeros(700, dtype=np.int8)
    return write_csv(csv_text(images, labels, usage))


def drawn_counts(dm: FERDataModule, epochs: int = 20) -> np.ndarray:
    counts = np.zeros(7)
    loader = dm.train_dataloader()
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)  # as Lightning does before each epoch
        for _, labels in loader:
            counts += np.bincount(labels.numpy(), minlength=7)
    return counts / counts.sum()


@pytest.mark.e2e
def test_balanced_sampler_draws_every_class_equally_often(imbalanced_csv):
    torch.manual_seed(0)
    kwargs = dict(path=str(imbalanced_csv), val_usage=None, test_usage=None, batch_size=64)
    plain = FERDataModule(**kwargs)
    plain.setup("fit")
    assert drawn_counts(plain, epochs=1)[3] > 0.85
    balanced = FERDataModule(**kwargs, balanced_sampler=True)
    balanced.setup("fit")
    np.testing.assert_allclose(drawn_counts(balanced), np.full(7, 1 / 7), atol=0.02)


def test_auto_class_weights_are_inverse_frequency():
    assert class_weights(None, [10, 30]) is None
    np.testing.assert_allclose(class_weights("auto", [10, 30]), [2.0, 2 / 3])
    assert class_weights([1, 2], [10, 30]) == [1.0, 2.0]
    with pytest.raises(UserError, match="one per class"):
        class_weights([1, 2, 3], [10, 30])


def test_class_weights_reach_the_loss(train_cfg):
    cfg = train_cfg(["data=synthetic", "loss.class_weights=auto"])
    module = build_module(cfg, [100, 10, 100, 200, 100, 100, 100])
    weight = module.criterion.weight
    assert weight is not None and weight[1] == pytest.approx(710 / 70) and weight.argmin() == 3
