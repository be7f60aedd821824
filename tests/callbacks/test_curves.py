"""curves.png, and the test split evaluated each epoch for that plot only (the seed_* runs)."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from fer_lightning.callbacks.curves import LossCurves
from tests.helpers.runs import ALL_OUTPUTS, train_tiny


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_tiny(
        tmp_path_factory.mktemp("curves"),
        *ALL_OUTPUTS,
        "trainer.max_epochs=2",
        "callbacks.curves.test_every_epoch=true",
    )


@pytest.mark.e2e
def test_test_curve_is_logged_each_epoch_but_never_a_metric(run):
    table = pd.read_csv(run.dir / "metrics.csv")
    test = table.dropna(subset=["plot_only/test_loss"])
    assert test["epoch"].tolist() == [0, 1]
    assert test["plot_only/test_acc"].between(0, 1).all()
    # Lightning's metrics (what checkpoints, early stopping and schedules read) never hold it.
    assert not [k for k in run.metrics if k.startswith("plot_only/")]
    assert test["plot_only/test_loss"].gt(0).all()


@pytest.mark.e2e
def test_the_last_epochs_test_curve_equals_the_test_loop_on_the_same_weights(tmp_path):
    # One epoch: the best checkpoint is the last weights, which the test loop then judges.
    tiny = train_tiny(tmp_path, *ALL_OUTPUTS, "callbacks.curves.test_every_epoch=true")
    table = pd.read_csv(tiny.dir / "metrics.csv").dropna(subset=["plot_only/test_acc"])
    assert table["plot_only/test_acc"].iloc[-1] == pytest.approx(tiny.metrics["test/acc"])
    assert table["plot_only/test_loss"].iloc[-1] == pytest.approx(
        tiny.metrics["test/loss"], rel=1e-4
    )


@pytest.mark.e2e
def test_the_plot_says_the_test_curve_is_for_the_plot_only(run):
    with Image.open(run.dir / "curves.png") as image:
        assert image.format == "PNG" and image.size[0] > 500


def test_a_history_saved_under_older_names_is_plotted_whole(tmp_path):
    """A run begun before train/loss_epoch became train/loss keeps its first epochs' points."""
    old = {"epoch": 1.0, "train/loss_epoch": 1.5, "val/loss": 1.4, "train/acc": 0.4}
    new = {"epoch": 2.0, "train/loss": 1.2, "val/loss": 1.3, "train/acc": 0.5}
    curves = LossCurves(str(tmp_path))
    curves.load_state_dict({"history": [old, new]})
    assert [r["train/loss"] for r in curves.history] == [1.5, 1.2]
    curves.plot()
    assert (tmp_path / "curves.png").exists()
