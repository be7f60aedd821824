"""Augmentation groups on whole batches: shapes, randomness per face, eval, seeds, crops, mixing."""

import pytest
import torch
from omegaconf import OmegaConf
from torchvision.transforms.v2 import functional as TF

from fer_lightning.data import FERDataModule
from fer_lightning.data.augment import Augmentation, build_augmentation, eval_views, five_crops
from fer_lightning.data.datamodule import datamodule_from_config
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.training.fit import train
from tests.helpers.configs import compose_train
from tests.helpers.runs import TINY, TINY_FACES

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
    dm = datamodule(train_cfg, "standard", option)
    torch.manual_seed(0)
    relabelled = 0
    for _ in range(40):  # one mixing weight per batch: some batches are mostly the other face
        x, y, soft = dm.preprocess(images, labels, train=True)
        assert soft.shape == (8, 7) and x.shape == (8, 3, 48, 48)
        torch.testing.assert_close(soft.sum(dim=1), torch.ones(8))
        # Train metrics judge the emotion that dominates each mixed face.
        assert torch.equal(y, soft.argmax(dim=1))
        relabelled += int(not torch.equal(y, labels))
    assert relabelled > 0


@pytest.mark.parametrize("crop", [40, 41])  # 41: the centre's offset 3.5 rounds as torchvision's
def test_crops_are_torchvisions_in_its_order(faces, crop):
    """Our crops take Python-int offsets (the exporters trace them); the views must not move."""
    x = faces[0].unsqueeze(1).float()
    for ours, theirs in zip(five_crops(x, 48, crop), TF.five_crop(x, [crop, crop]), strict=True):
        assert torch.equal(ours, theirs)
    ten = eval_views(x, 48, "ten", crop)
    assert len(ten) == 10
    for ours, theirs in zip(ten, TF.ten_crop(x, [crop, crop]), strict=True):
        assert torch.equal(ours, theirs)
    (centre,) = eval_views(x, 48, "center", crop)
    assert torch.equal(centre, TF.center_crop(x, [crop, crop]))


def test_transforms_are_named_and_one_can_be_dropped(train_cfg):
    """By name in order; a null one is dropped (the ablation of a single ingredient), and the
    plain list of runs saved before the names still builds."""
    cfg = train_cfg(["experiment=fer_cpu", "aug.transforms.erasing=null"])
    aug = OmegaConf.to_container(cfg.aug)
    kinds = [type(t).__name__ for t in build_augmentation(aug).transforms]
    assert kinds == ["RandomAffine", "RandomCrop", "RandomHorizontalFlip"]
    aug["transforms"] = [t for t in aug["transforms"].values() if t is not None]
    assert [type(t).__name__ for t in build_augmentation(aug).transforms] == kinds


def test_tencrop_of_a_cropping_run_takes_the_ten_crops_of_the_whole_face(faces):
    """Not ten copies of the centre crop: that was hflip under another name."""
    x = faces[0].unsqueeze(1).float()
    views = eval_views(x, 48, "center", 40, tta="tencrop")
    for ours, theirs in zip(views, TF.ten_crop(x, [40, 40]), strict=True):
        assert torch.equal(ours, theirs)
    assert len({v.numpy().tobytes() for v in views}) == 10  # ten different views
    whole = eval_views(x, 48, None, 40, tta="tencrop")  # a whole-face network: resized back
    assert len(whole) == 10 and all(v.shape[-2:] == (48, 48) for v in whole)
    torch.testing.assert_close(whole[4], TF.resize(TF.center_crop(x, [40, 40]), [48, 48]))


def test_single_view_is_the_centre_crop_of_a_cropping_run():
    assert Augmentation().single_view() == Augmentation()
    for eval_crop in ("center", "ten"):
        view = Augmentation(eval_crop=eval_crop, crop_size=40, tta="hflip").single_view()
        assert (view.eval_crop, view.crop_size, view.tta) == ("center", 40, "none")


def test_the_data_module_of_a_config_takes_the_runs_tta_unless_told(train_cfg):
    cfg = train_cfg(["experiment=fer_cpu"])
    dm = datamodule_from_config(cfg.data, cfg.aug, cfg.model.num_classes)
    assert dm.augmentation.tta == cfg.aug.tta == "hflip"
    assert (dm.augmentation.eval_crop, dm.augmentation.crop_size) == ("center", 40)
    assert dm.hparams.batch_size == cfg.data.batch_size and dm.hparams.channels == 1
    override = datamodule_from_config(cfg.data, cfg.aug, cfg.model.num_classes, tta="tencrop")
    assert override.augmentation.tta == "tencrop"


@pytest.mark.e2e
def test_tencrop_and_mixup_train_through_the_entry_point(train_cfg):
    for aug in (
        ["aug=tencrop"],
        ["aug=colorjitter", "aug.mixup_alpha=0.2", "aug.cutmix_alpha=1.0"],
    ):
        metrics = train(train_cfg([*TINY, *aug]))
        assert 0.0 <= metrics["test/acc"] <= 1.0


@pytest.mark.e2e
@pytest.mark.parametrize("group", GROUPS)
def test_aug_preview_writes_a_picture(tmp_path, group):
    from PIL import Image

    from fer_lightning.aug_preview import preview

    cfg = compose_train(
        [f"aug={group}", f"data.synthetic_size={TINY_FACES}"], tmp_path, "aug_preview"
    )
    path = preview(cfg)
    assert path.name == f"aug_preview_{group}.png"
    with Image.open(path) as image:
        rows = 11 if group == "tencrop" else 5
        assert image.format == "PNG" and image.size[1] > rows * 100
