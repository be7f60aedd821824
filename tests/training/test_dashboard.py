"""TensorBoard as a user meets it, read back from a real run's event files.

One naming scheme (the README's "What a run leaves behind"), one step axis for scalars, pictures
and PR curves, no placeholder points, the Custom Scalars layout, and an HParams trial named
after its run folder that lists the run's choices.
"""

from __future__ import annotations

import re

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import plugin_data_pb2

from fer_lightning.data.labels import EMOTIONS
from tests.helpers.runs import ALL_OUTPUTS, events_dir, train_tiny

pytestmark = pytest.mark.e2e  # every test here trains or runs a command

CLASS = "|".join(EMOTIONS)
SCALAR_NAMES = re.compile(
    rf"^(train|val|test)/(loss|acc|precision|recall|f1)(/({CLASS}))?$"
    r"|^train/epoch_seconds$|^step/(train_loss|lr|epoch)$|^plot_only/test_(loss|acc)$"
)
PICTURE_NAMES = re.compile(
    r"^visuals/data/(samples_per_class|class_distribution)$|^visuals/activations/[\w.]+$"
    r"|^(val|test)/confusion_matrix$|^test/(misclassified|per_class)$"
)


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    run = train_tiny(
        tmp_path_factory.mktemp("dashboard"),
        *ALL_OUTPUTS,
        "trainer.max_epochs=2",
        "trainer.log_every_n_steps=1",
        "aug=colorjitter",
    )
    folder = events_dir(run.dir)
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return run, folder, acc


def test_every_tag_follows_the_naming_scheme(events):
    _, _, acc = events
    tags = acc.Tags()
    assert [t for t in tags["scalars"] if not SCALAR_NAMES.match(t)] == []
    assert [t for t in tags["images"] if not PICTURE_NAMES.match(t)] == []
    pr = [t for t in tags["tensors"] if t.split("/")[1:2] == ["pr"]]
    assert sorted(pr) == sorted(f"{s}/pr/{c}" for s in ("val", "test") for c in EMOTIONS)


def test_time_series_shows_curves_before_pictures(events):
    """TensorBoard's Time Series tab lists tag groups (the part before the first "/") in
    alphabetical order: the groups of big pictures come after every group of curves."""
    _, _, acc = events
    tags = acc.Tags()
    groups = sorted({t.split("/")[0] for t in tags["scalars"] + tags["images"]})
    picture_only = [g for g in groups if not any(t.startswith(g + "/") for t in tags["scalars"])]
    assert picture_only == ["visuals"] and groups[-1] == "visuals"


def test_pictures_and_curves_share_the_scalars_step_axis(events):
    _, _, acc = events
    epoch_steps = [e.step for e in acc.Scalars("val/acc")]
    test_steps = [e.step for e in acc.Scalars("test/acc")]
    assert len(epoch_steps) == 2 and len(test_steps) == 1
    assert [e.step for e in acc.Images("val/confusion_matrix")] == epoch_steps
    assert [e.step for e in acc.Tensors("val/pr/happy")] == epoch_steps
    assert [e.step for e in acc.Tensors("test/pr/happy")] == test_steps
    assert [e.step for e in acc.Images("test/confusion_matrix")] == test_steps
    # Activation pictures: before the first step, then at the last epoch's step.
    assert [e.step for e in acc.Images("visuals/activations/filters")] == [0, epoch_steps[-1]]
    assert [e.step for e in acc.Scalars("train/loss")] == epoch_steps


def test_no_placeholder_points(events):
    """Every point is a value the run measured: no hp/ copies, nothing logged before step 1."""
    run, _, acc = events
    assert not [t for t in acc.Tags()["scalars"] if t.startswith("hp/")]
    for tag in ("val/acc", "val/loss", "test/acc", "train/loss"):
        assert acc.Scalars(tag)[0].step > 0, tag
    assert acc.Scalars("test/acc")[-1].value == pytest.approx(run.metrics["test/acc"])


def test_custom_scalars_put_train_beside_validation(events):
    _, _, acc = events
    layout = layout_pb2.Layout()
    proto = acc.Tensors("custom_scalars__config__")[0].tensor_proto
    layout.ParseFromString(proto.string_val[0])
    charts = {c.title: list(c.multiline.tag) for cat in layout.category for c in cat.chart}
    tags = acc.Tags()["scalars"]

    def drawn(chart: str) -> list[str]:  # TensorBoard searches each pattern in the tag names
        return sorted(t for t in tags if any(re.search(p, t) for p in charts[chart]))

    assert drawn("loss: train and validation") == ["train/loss", "val/loss"]
    assert drawn("accuracy: train and validation") == ["train/acc", "val/acc"]
    assert drawn("macro F1: train and validation") == ["train/f1", "val/f1"]
    assert drawn("learning rate") == ["step/lr"]
    assert drawn("recall") == sorted(f"val/recall/{c}" for c in EMOTIONS)
    assert [cat.title for cat in layout.category] == ["curves", "validation per class"]


def test_hparams_trial_is_named_after_the_run_and_shows_its_choices(events):
    run, folder, acc = events
    assert folder.name == run.dir.name  # TensorBoard names the run (and trial) by its folder
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    values = {k: v.string_value or v.number_value for k, v in start.hparams.items()}
    # TensorBoard shows the first five names (sorted) until others are ticked: the choices.
    first = [name.split(" ", 1)[1] for name in sorted(values)[:5]]
    assert first == ["experiment", "model", "aug", "labels", "optimizer"]
    assert values["2 model"] == "emo1" and values["3 aug"] == "colorjitter"
    assert values["8 batch_size"] == "16" and values["9 max_epochs"] == "2"  # whole numbers
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/experiment"]
    ).experiment
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {"val/acc", "test/acc"} <= metrics <= set(acc.Tags()["scalars"])
