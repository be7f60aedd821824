"""FERDataModule: uint8 batches from the loader, preprocessing and augmentation on the device."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from kornia.augmentation import ColorJitter

from fer_lightning.data import FERDataModule
from fer_lightning.data.augment import Augmentation
from fer_lightning.data.labels import EMOTIONS
from fer_lightning.errors import DataError
from tests.helpers.fer_csv import csv_text, fer_rows


@pytest.fixture
def csv_path(write_csv):
    images, labels, usage = fer_rows(300, seed=4)
    return write_csv(csv_text(images, labels, usage))


def test_loader_yields_whole_uint8_batches(csv_path):
    dm = FERDataModule(path=str(csv_path), batch_size=32)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (32, 48, 48)
    assert labels.dtype == torch.int64 and labels.shape == (32,)
    assert sum(len(y) for _, y in dm.val_dataloader()) == len(dm.indices["val"])


def test_preprocess_scales_normalizes_and_replicates_channels():
    x = torch.zeros(2, 48, 48, dtype=torch.uint8)
    x[0] = 255
    x[1, :, :24] = 51
    y = torch.tensor([1, 2])
    out, labels, soft = FERDataModule(channels=3).preprocess(x, y, train=False)
    assert out.shape == (2, 3, 48, 48) and out.dtype == torch.float32
    assert torch.all(out[0] == 1.0) and out[1].min() == -1.0
    torch.testing.assert_close(out[1, :, 0, 0], torch.full((3,), (51 / 255 - 0.5) / 0.5))
    assert torch.equal(out[:, 0], out[:, 2]) and torch.equal(labels, y) and soft is None
    assert FERDataModule(channels=1).preprocess(x, y, train=False)[0].shape == (2, 1, 48, 48)
    cl = FERDataModule(channels_last=True).preprocess(x, y, train=False)[0]
    assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, out)


def test_augmentation_only_for_training_and_differs_per_sample():
    torch.manual_seed(0)
    jitter = Augmentation(transforms=ColorJitter(brightness=0.2, contrast=0.2, p=1.0))
    dm = FERDataModule(augmentation=jitter)
    x = torch.full((4, 48, 48), 100, dtype=torch.uint8)
    x[:, 10:30, 10:30] = 200
    y = torch.zeros(4, dtype=torch.int64)
    plain = dm.preprocess(x, y, train=False)[0]
    assert torch.equal(plain[0], plain[1])
    augmented = dm.preprocess(x, y, train=True)[0]
    assert not torch.equal(augmented, plain)
    assert not torch.equal(augmented[0], augmented[1])  # each face its own jitter
    assert dm.on_after_batch_transfer((x, y), 0)[0].equal(plain)  # no trainer: evaluation


def test_synthetic_source_has_the_real_form():
    dm = FERDataModule(source="synthetic", synthetic_size=700)
    dm.setup("fit")
    faces = dm.faces
    assert faces.images.dtype == np.uint8 and faces.images.shape == (700, 48, 48)
    assert len(dm.indices["train"]) == 560 and len(dm.indices["val"]) == 70


def test_unlabelled_data_cannot_train(write_csv):
    images, _, _ = fer_rows(20)
    path = write_csv(csv_text(images, None, None, columns=("pixels",)))
    dm = FERDataModule(path=str(path), split="random")
    with pytest.raises(DataError, match="no emotion labels"):
        dm.setup("fit")


def test_absent_private_test_names_the_development_options(write_csv):
    images, labels, usage = fer_rows(100)
    path = write_csv(csv_text(images, labels, np.minimum(usage, 1)))  # no PrivateTest rows
    dm = FERDataModule(path=str(path))
    dm.setup("fit")
    with pytest.raises(DataError, match=r"no PrivateTest rows.*data.test_usage=PublicTest"):
        dm.setup("test")


def test_missing_file_message(tmp_path):
    with pytest.raises(DataError, match=r"no data file at .*data=synthetic"):
        FERDataModule(path=str(tmp_path / "fer2013.csv")).setup("fit")


def test_challenge_train_csv_needs_the_random_split(write_csv):
    images, labels, _ = fer_rows(50)
    path = write_csv(csv_text(images, labels, None, columns=("emotion", "pixels")), "train.csv")
    with pytest.raises(DataError, match=r"no Usage column.*data.split=random"):
        FERDataModule(path=str(path)).setup("fit")
    dm = FERDataModule(path=str(path), split="random")
    dm.setup("fit")
    assert len(dm.indices["train"]) + len(dm.indices["val"]) + len(dm.indices["test"]) == 50


def test_split_counts_name_the_classes_of_each_split_that_has_faces(csv_path):
    dm = FERDataModule(path=str(csv_path))
    counts = dm.split_counts()
    assert list(counts) == ["train", "val", "test"]
    for name, per_class in counts.items():
        assert list(per_class) == list(EMOTIONS)
        assert list(per_class.values()) == dm.class_counts(name)
        assert sum(per_class.values()) == len(dm.indices[name])
    no_test = FERDataModule(path=str(csv_path), test_usage=None)
    assert list(no_test.split_counts()) == ["train", "val"]  # an empty split is left out


def test_training_order_depends_on_seed_and_epoch_only(csv_path):
    dm = FERDataModule(path=str(csv_path), batch_size=300, shuffle_seed=3)
    dm.setup("fit")
    loader = dm.train_dataloader()

    def order(epoch):
        loader.sampler.set_epoch(epoch)
        torch.manual_seed(epoch + 100)  # the global RNG must not matter
        return torch.cat([y for _, y in loader])

    assert torch.equal(order(1), order(1)) and not torch.equal(order(1), order(2))


def test_on_device_moves_splits_built_before_the_trainer(csv_path):
    """train builds the splits before the trainer exists; Lightning's setup must still move
    them to the trainer's device. The meta device stands for a GPU on this CPU-only machine."""
    dm = FERDataModule(path=str(csv_path), batch_size=32, on_device=True)
    dm.setup("fit")  # as train() does: no trainer yet, so the host
    assert dm.dataset("train").images.device.type == "cpu"
    meta = SimpleNamespace(root_device=torch.device("meta"))
    dm.trainer = SimpleNamespace(strategy=meta, current_epoch=0)
    dm.setup("fit")  # Lightning's call, with the trainer attached
    for name in ("train", "val"):
        assert dm.datasets[name].images.device.type == "meta"
        assert dm.datasets[name].labels.device.type == "meta"
    assert dm.train_dataloader().dataset.images.device.type == "meta"
    off = FERDataModule(path=str(csv_path), on_device=False)
    off.trainer = dm.trainer
    off.setup("fit")
    assert off.dataset("train").images.device.type == "cpu"
