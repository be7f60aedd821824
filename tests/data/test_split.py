"""Both split strategies: sizes, disjointness, seeded determinism, clear empty-split messages."""

import numpy as np
import pytest

from fer_lightning.data.faces import FaceSet
from fer_lightning.data.split import describe_empty, split_indices
from fer_lightning.errors import DataError
from tests.helpers.fer_csv import fer_rows


def faces(n=1000, usage=True) -> FaceSet:
    images, labels, codes = fer_rows(n, seed=3)
    return FaceSet(images, labels, codes if usage else np.full(n, -1, np.int8), "fixture")


def assert_disjoint(split):
    seen = np.concatenate(list(split.values()))
    assert len(seen) == len(np.unique(seen))


def test_usage_split_follows_usage_column():
    data = faces()
    split = split_indices(data, "usage")
    assert (data.usage[split["train"]] == 0).all()
    assert (data.usage[split["val"]] == 1).all() and (data.usage[split["test"]] == 2).all()
    assert sum(map(len, split.values())) == len(data)
    assert_disjoint(split)


def test_usage_split_carves_validation_from_training():
    data = faces()
    n_training = int((data.usage == 0).sum())
    split = split_indices(data, "usage", val_usage=None, val_ratio=0.1, test_usage="PublicTest")
    assert len(split["val"]) == round(0.1 * n_training)
    assert len(split["train"]) + len(split["val"]) == n_training
    assert (data.usage[split["val"]] == 0).all() and (data.usage[split["test"]] == 1).all()
    assert_disjoint(split)
    again = split_indices(data, "usage", val_usage=None, val_ratio=0.1, test_usage="PublicTest")
    np.testing.assert_array_equal(split["val"], again["val"])


def test_random_split_sizes_disjoint_and_seeded():
    data = faces(1000, usage=False)
    split = split_indices(data, "random", train_ratio=0.8, val_ratio=0.1, seed=7)
    assert [len(split[k]) for k in ("train", "val", "test")] == [720, 80, 200]
    assert_disjoint(split)
    same = split_indices(data, "random", train_ratio=0.8, val_ratio=0.1, seed=7)
    other = split_indices(data, "random", train_ratio=0.8, val_ratio=0.1, seed=8)
    for k in split:
        np.testing.assert_array_equal(split[k], same[k])
    assert not np.array_equal(split["test"], other["test"])


def test_usage_split_without_usage_column_names_the_fix():
    with pytest.raises(DataError, match=r"no Usage column.*data.split=random"):
        split_indices(faces(usage=False), "usage")


def test_same_usage_for_val_and_test_is_refused():
    with pytest.raises(DataError, match="never select"):
        split_indices(faces(), "usage", val_usage="PublicTest", test_usage="PublicTest")


def test_missing_private_test_message_names_options():
    message = describe_empty(faces(), "test", "usage", "PublicTest", "PrivateTest")
    assert "no PrivateTest rows" in message
    assert "data.val_usage=null" in message and "data.test_usage=PublicTest" in message


def test_val_usage_auto_takes_public_test_unless_it_is_the_test_split():
    data = faces()
    auto = split_indices(data, "usage", val_usage="auto")
    csv = split_indices(data, "usage", val_usage="PublicTest")
    for name in auto:
        np.testing.assert_array_equal(auto[name], csv[name])
    dev = split_indices(data, "usage", val_usage="auto", val_ratio=0.1, test_usage="PublicTest")
    carved = split_indices(data, "usage", val_usage=None, val_ratio=0.1, test_usage="PublicTest")
    for name in dev:
        np.testing.assert_array_equal(dev[name], carved[name])
    no_public = FaceSet(data.images, data.labels, np.where(data.usage == 1, 0, data.usage), "x")
    split = split_indices(no_public, "usage", val_usage="auto", val_ratio=0.1)
    assert (no_public.usage[split["val"]] == 0).all() and len(split["val"]) > 0


def test_missing_private_test_message_for_folders_and_auto():
    message = describe_empty(faces(), "test", "usage", "PublicTest", "PrivateTest", "folder")
    assert "data.val_usage=null" in message and "fer2013_dev" not in message
    message = describe_empty(faces(), "test", "usage", "auto", "PrivateTest", "folder")
    assert "no PrivateTest rows" in message and "data.test_usage=PublicTest (validation" in message
