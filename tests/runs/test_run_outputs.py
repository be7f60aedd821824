"""A short real run writes its pictures as files and into TensorBoard."""

import importlib.metadata
import json

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers.runs import ALL_OUTPUTS, events_dir, train_tiny

pytestmark = pytest.mark.e2e  # every test here trains or runs a command


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    overrides = ["aug=colorjitter", "loss.class_weights=auto", "data.balanced_sampler=true"]
    return train_tiny(tmp_path_factory.mktemp("run"), *ALL_OUTPUTS, *overrides).dir


@pytest.mark.parametrize("name", ["samples_per_class", "class_distribution"])
def test_data_pictures_are_valid_png_files(run_dir, name):
    with Image.open(run_dir / f"{name}.png") as image:
        assert image.format == "PNG" and min(image.size) > 200
        assert np.asarray(image.convert("L")).std() > 10  # not blank


def test_data_pictures_and_metrics_are_in_tensorboard(run_dir):
    assert list(events_dir(run_dir).glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(events_dir(run_dir)), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    data = {"visuals/data/samples_per_class", "visuals/data/class_distribution"}
    assert data <= set(tags["images"])
    assert {"val/acc", "val/recall/disgust", "train/loss"} <= set(tags["scalars"])
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    assert b"colorjitter" in content and b"emo1" in content  # model and aug choices


def test_loss_curves_png(run_dir):
    with Image.open(run_dir / "curves.png") as image:
        assert image.format == "PNG" and image.size[0] > 500


def test_same_seed_same_metrics_and_run_info(tmp_path):
    args = ["aug=standard", "aug.mixup_alpha=0.2"]
    first = train_tiny(tmp_path / "a", *args).metrics
    second = train_tiny(tmp_path / "b", *args).metrics
    timing = {"train_time_s", "train/epoch_seconds"}
    assert {k: v for k, v in first.items() if k not in timing} == {
        k: v for k, v in second.items() if k not in timing
    }
    info = json.loads((tmp_path / "a" / "run" / ".hydra" / "run_info.json").read_text())
    assert info["versions"]["torch"] == importlib.metadata.version("torch")
    assert info["command"] and info["machine"]["cpus"] >= 1
    assert info["git_commit"] is None or len(info["git_commit"].split("+")[0]) == 40
