"""Tests for the synthetic expression-face generator, the framework's built-in data set."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fer_lightning.data.labels import EMOTIONS
from fer_lightning.data.synthetic import generate_faces


def test_shapes_dtypes_and_ranges() -> None:
    images, labels = generate_faces(60, seed=0)
    assert images.shape == (60, 48, 48)
    assert images.dtype == np.uint8
    assert labels.shape == (60,)
    assert labels.dtype == np.int64
    assert labels.min() >= 0
    assert labels.max() < len(EMOTIONS)
    # Pixels use most of the grey range across a batch, not a narrow band.
    assert images.min() < 40
    assert images.max() > 215


def test_other_sizes_and_empty() -> None:
    images, labels = generate_faces(10, seed=1, size=32)
    assert images.shape == (10, 32, 32)
    images, labels = generate_faces(0, seed=1)
    assert images.shape == (0, 48, 48)
    assert labels.shape == (0,)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate_faces(-1)
    with pytest.raises(ValueError):
        generate_faces(5, size=4)


def test_same_seed_gives_identical_arrays() -> None:
    a_img, a_lab = generate_faces(700, seed=123)  # spans more than one rendering chunk
    b_img, b_lab = generate_faces(700, seed=123)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lab, b_lab)


def test_other_seed_gives_different_arrays() -> None:
    a_img, a_lab = generate_faces(100, seed=0)
    b_img, b_lab = generate_faces(100, seed=1)
    assert not np.array_equal(a_img, b_img)
    assert not np.array_equal(a_lab, b_lab)


@pytest.mark.parametrize("num_faces", [1, 6, 7, 13, 100, 1003])
def test_classes_are_balanced(num_faces: int) -> None:
    _, labels = generate_faces(num_faces, seed=num_faces)
    counts = np.bincount(labels, minlength=len(EMOTIONS))
    assert counts.sum() == num_faces
    assert counts.max() - counts.min() <= 1


def test_labels_are_shuffled() -> None:
    _, labels = generate_faces(70, seed=0)
    assert not np.array_equal(labels, np.arange(70) % len(EMOTIONS))


def test_pixel_statistics_resemble_fer2013() -> None:
    images, _ = generate_faces(500, seed=5)
    flat = images.reshape(len(images), -1).astype(np.float64)
    assert 100.0 < flat.mean() < 160.0
    assert 35.0 < flat.std(axis=1).mean() < 65.0
    # Images differ from each other, not just by noise.
    assert flat.mean(axis=1).std() > 15.0


@pytest.mark.e2e
def test_faces_are_learnable_but_not_trivial() -> None:
    """A tiny CNN must beat chance (1/7) by far; the accuracy is printed to show it is not 100%."""
    torch.manual_seed(0)
    train_x, train_y = generate_faces(2000, seed=10)
    test_x, test_y = generate_faces(700, seed=11)

    def to_tensor(x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(x.astype(np.float32))[:, None]
        mean, std = t.mean(dim=(2, 3), keepdim=True), t.std(dim=(2, 3), keepdim=True)
        return (t - mean) / (std + 1e-3)

    xs, ys = to_tensor(train_x), torch.from_numpy(train_y)
    xt, yt = to_tensor(test_x), torch.from_numpy(test_y)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 6 * 6, len(EMOTIONS)),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(6):
        order = torch.randperm(len(xs))
        for start in range(0, len(xs), 64):
            batch = order[start : start + 64]
            loss = nn.functional.cross_entropy(model(xs[batch]), ys[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = (model(xt).argmax(dim=1) == yt).float().mean().item()
    print(f"\nsynthetic faces: tiny CNN held-out accuracy {accuracy:.3f} (chance {1 / 7:.3f})")
    assert accuracy > 0.5
