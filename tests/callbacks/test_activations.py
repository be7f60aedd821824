"""Activation grids: stages found by structure, hooks that leave no trace, a real run's pictures."""

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from fer_lightning.callbacks.activations import ActivationGrids, sample_faces
from fer_lightning.data import FERDataModule
from fer_lightning.data.augment import Augmentation
from fer_lightning.models.seed_cnns import Emo2CNN, Emo5CNN, EmoCNN
from fer_lightning.models.stages import capture_activations, conv_stages, first_conv
from fer_lightning.plots.activations import DEAD, activation_mosaic, normalize_maps
from fer_lightning.training.fit import train
from tests.helpers.configs import compose_train
from tests.helpers.runs import TINY_RUN, events_dir


def flat_vgg() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 24 * 24, 7),
    )


def test_stages_of_the_seed_networks_are_their_named_stages():
    assert [n for n, _ in conv_stages(EmoCNN())] == [f"features.stage{i}" for i in range(1, 6)]
    net = Emo5CNN()
    stages = conv_stages(net)
    assert len(stages) == 9 and stages[-1][1] is net.features.stage9
    assert first_conv(net) == ("features.stage1.conv", net.features.stage1.conv)


def test_stages_of_other_networks_are_found_by_structure():
    resnet = torchvision.models.resnet18(num_classes=7)
    names = [n for n, _ in conv_stages(resnet)]
    # The stem conv (up to its pooling), then each block; a block's shortcut is not a stage.
    blocks = [f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)]
    assert names == ["conv1", *blocks]
    assert dict(conv_stages(resnet))["conv1"] is resnet.maxpool
    vgg = flat_vgg()
    assert [(n, m) for n, m in conv_stages(vgg)] == [("0", vgg[2]), ("3", vgg[5])]


def test_capture_gives_each_stage_output_and_leaves_no_trace():
    net = Emo2CNN().train()
    bn = net.features.stage1.bn
    mean = bn.running_mean.clone()
    logits, maps = capture_activations(net, torch.randn(3, 3, 48, 48))
    assert logits.shape == (3, 7) and not logits.requires_grad
    sizes = [m.shape[-1] for m in maps.values()]
    assert sizes == [46, 22, 10, 10, 10]
    assert [m.shape[1] for m in maps.values()] == [16, 32, 64, 128, 128]
    assert net.training
    torch.testing.assert_close(bn.running_mean, mean)
    assert all(not m._forward_hooks for m in net.modules())
    # The ReLU output of the flat stack's second stage, after its pooling, as the net saw it.
    vgg_maps = capture_activations(flat_vgg(), torch.randn(2, 3, 48, 48))[1]
    assert vgg_maps["3"].shape == (2, 8, 24, 24) and vgg_maps["3"].min() >= 0


def test_faces_are_prepared_in_one_view_as_the_data_module_does():
    """The grids' input: the run's normalization and channels, one view (a ten-crop run's centre
    crop), written out here by hand."""
    images = torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8)
    labels = torch.zeros(4, dtype=torch.long)
    whole = ((images.float() / 255 - 0.3) / 0.2).unsqueeze(1).expand(-1, 3, -1, -1)
    centre = whole[..., 4:44, 4:44]
    for eval_crop, expected in ((None, whole), ("center", centre), ("ten", centre)):
        augmentation = Augmentation(eval_crop=eval_crop, crop_size=40)
        dm = FERDataModule(channels=3, mean=0.3, std=0.2, augmentation=augmentation)
        view = dm.augmentation.single_view()
        x = dm.preprocess(images, labels, train=False, augmentation=view)[0]
        torch.testing.assert_close(x, expected)
    gray = FERDataModule(channels=1).preprocess(images, labels, False, Augmentation())[0]
    assert gray.shape == (4, 1, 48, 48)


def test_sample_faces_are_the_first_of_each_class():
    labels = np.array([3, 0, 3, 6, 0, 1, 6])
    assert sample_faces(labels, 7) == [1, 5, 0, 3]
    assert sample_faces(labels, 4) == [1, 5, 0]  # classes beyond num_classes are not drawn


def test_maps_are_scaled_each_on_its_own_and_wide_stages_cut():
    maps = torch.stack([torch.arange(16.0).view(4, 4), torch.full((4, 4), 5.0)])[None]
    shown = normalize_maps(maps)
    assert shown[0, 0].min() == 0 and shown[0, 0].max() == 1
    assert (shown[0, 1] == 0).all()  # constant: no division by zero
    inputs = torch.randn(2, 3, 8, 8)
    wide = torch.rand(2, 20, 4, 4)
    wide[1, 0] = 0.0  # a dead channel for the second face
    grid, columns = activation_mosaic(inputs, wide, max_channels=5)
    assert columns == 6 and grid.shape == (2 * 8 + 2, 6 * 8 + 5 * 2, 3)
    assert np.allclose(grid[10:18, 10:18], DEAD)  # face 2, channel 0: drawn gray
    grid, columns = activation_mosaic(inputs[:1], wide[:1], max_channels=None, wrap=7)
    assert columns == 7 and grid.shape[0] == 3 * 8 + 2 * 2  # 21 cells in rows of 7


@pytest.fixture(scope="module")
def grids_run(tmp_path_factory):
    """A one-step ten-crop run (40x40 input) with grids at start, after each epoch and at end."""
    tmp = tmp_path_factory.mktemp("grids")
    target = "fer_lightning.callbacks.activations.ActivationGrids"
    cfg = compose_train(
        [
            *TINY_RUN,
            "aug=tencrop",
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
            "trainer.log_every_n_steps=1",
            "logger=default",
            "test=false",
            f"+callbacks.activation_grids._target_={target}",
            "+callbacks.activation_grids.output_dir=${paths.output_dir}",
            "+callbacks.activation_grids.max_channels=8",
            "+callbacks.activation_grids.every_n_epochs=1",
        ],
        tmp,
    )
    calls: list[tuple[str, int, bool]] = []
    callbacks: list[ActivationGrids] = []
    draw = ActivationGrids.draw

    def spy(self, trainer, pl_module, when):
        calls.append((when, trainer.global_step, pl_module.net.training))
        callbacks.append(self)
        draw(self, trainer, pl_module, when)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ActivationGrids, "draw", spy)
        train(cfg)
    return tmp / "run", callbacks[0], calls


@pytest.mark.e2e
def test_grids_are_drawn_before_any_step_and_at_the_end(grids_run):
    _, callback, calls = grids_run
    assert calls == [("start", 0, True), ("epoch000", 1, True), ("end", 1, True)]
    assert callback.faces.shape == (7, 3, 40, 40)  # the ten-crop model's centre crop
    assert len(set(callback.labels)) == 7


@pytest.mark.e2e
def test_grids_are_png_files(grids_run):
    run, _, _ = grids_run
    folder = run / "activations"
    for when in ("start", "epoch000", "end"):
        for name in [f"features.stage{i}" for i in range(1, 6)] + ["filters"]:
            with Image.open(folder / f"{when}_{name}.png") as image:
                assert image.format == "PNG" and min(image.size) > 150
                assert np.asarray(image.convert("L")).std() > 10  # not blank
    start = np.asarray(Image.open(folder / "start_filters.png"))
    end = np.asarray(Image.open(folder / "end_filters.png"))
    assert start.shape == end.shape


@pytest.mark.e2e
def test_grids_are_in_tensorboard(grids_run):
    run, _, _ = grids_run
    acc = EventAccumulator(str(events_dir(run)), size_guidance={"images": 0})
    acc.Reload()
    tags = set(acc.Tags()["images"])
    # One tag per stage (and one for the filters), a picture per drawing: start, each
    # every_n_epochs epoch, end, at the steps the epochs' scalars are filed under.
    stages = {f"visuals/activations/features.stage{i}" for i in range(1, 6)}
    assert stages | {"visuals/activations/filters"} <= tags
    events = acc.Images("visuals/activations/features.stage3")
    assert events[0].step == 0 and events[0].width > 400
    steps = [event.step for event in events]  # start, epoch000, end (end shares its step)
    assert len(steps) == 3 and steps[0] == 0 and steps == sorted(steps)
