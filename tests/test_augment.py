"""Augmentation groups on whole batches: shapes, randomness per face, eval, seeds, crops, mixing."""

import pytest
import torch
from omegaconf import OmegaConf

from fer_lightning.data import FERDataModule
from fer_lightning.data.augment import build_augmentation
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.train import train

GROUPS = ["none", "colorjitter", "standard", "tencrop"]


@pytest.fixture(scope="module")
def faces():
    images, labels = generate_faces(8, seed=3)
    return torch.from_numpy(images), torch.from_numpy(labels)


def datamodule(train_cfg, group: str, *extra: str) -> FERDataModule:
    cfg = train_cfg([f"aug={group}", *extra])
    aug = build_augmentation(OmegaConf.to_container(cfg.aug), num_classes=7)
    return FERDataModule(augmentation=aug, channels=3)


@pytest.mark.parametrize("group", GROUPS)
def test_group_keeps_dtype_and_shape_and_is_off_at_evaluation(train_cfg, faces, group):
    images, labels = faces
    dm = datamodule(train_cfg, group)
    x, y, soft = dm.preprocess(images, labels, train=True)
    assert x.dtype == torch.float32 and soft is None
    if group == "tencrop":
        assert x.shape == (80, 3, 40, 40)
        assert torch.equal(y, labels.repeat_interleave(10))  # ten samples per face
        views = dm.preprocess(images, labels, train=False)[0]
        assert views.shape == (8, 10, 3, 40, 40)
    else:
        assert x.shape == (8, 3, 48, 48) and torch.equal(y, labels)
        assert torch.equal(
            dm.preprocess(images, labels, train=False)[0],
            FERDataModule(channels=3).preprocess(images, labels, False)[0],
        )


@pytest.mark.parametrize("group", ["colorjitter", "standard"])
def test_group_differs_per_sample_and_repeats_under_a_seed(train_cfg, group):
    dm = datamodule(train_cfg, group)
    same_face = torch.from_numpy(generate_faces(1, seed=4)[0]).expand(6, 48, 48)
    labels = torch.zeros(6, dtype=torch.int64)
    torch.manual_seed(5)
    first = dm.preprocess(same_face, labels, train=True)[0]
    assert all(not torch.equal(first[0], first[i]) for i in range(1, 6))
    torch.manual_seed(5)
    again = dm.preprocess(same_face, labels, train=True)[0]
    torch.testing.assert_close(first, again)


@pytest.mark.parametrize("option", ["aug.mixup_alpha=0.4", "aug.cutmix_alpha=1.0"])
def test_mixed_targets_sum_to_one(train_cfg, faces, option):
    images, labels = faces
    x, y, soft = datamodule(train_cfg, "standard", option).preprocess(images, labels, train=True)
    assert soft.shape == (8, 7) and x.shape == (8, 3, 48, 48)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(8))
    assert torch.equal(y, labels)


def test_tencrop_and_mixup_train_through_the_entry_point(train_cfg):
    for aug in (
        ["aug=tencrop"],
        ["aug=colorjitter", "aug.mixup_alpha=0.2", "aug.cutmix_alpha=1.0"],
    ):
        metrics = train(
            train_cfg(
                [
                    "data=synthetic",
                    "data.synthetic_size=280",
                    "data.batch_size=16",
                    "trainer=debug",
                    "callbacks=minimal",
                    "logger=none",
                    *aug,
                ]
            )
        )
        assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.parametrize("group", GROUPS)
def test_aug_preview_writes_a_picture(tmp_path, group):
    from PIL import Image

    from fer_lightning.aug_preview import preview
    from tests.conftest import compose_train

    cfg = compose_train([f"aug={group}", "data.synthetic_size=280"], tmp_path, "aug_preview")
    path = preview(cfg)
    assert path.name == f"aug_preview_{group}.png"
    with Image.open(path) as image:
        rows = 11 if group == "tencrop" else 5
        assert image.format == "PNG" and image.size[1] > rows * 100
