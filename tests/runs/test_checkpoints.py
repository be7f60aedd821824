"""A checkpoint alone rebuilds the trained model, also one saved before classes moved."""

import pytest
import torch

from fer_lightning.errors import UserError
from fer_lightning.eval import evaluate
from fer_lightning.inference.classifier import load_classifier
from fer_lightning.runs.allowed_targets import MOVED, is_allowed
from fer_lightning.runs.checkpoints import read_checkpoint
from tests.helpers.configs import compose_train

OLD_LOGGER = "fer_lightning.loggers.ResumableCSVLogger"


@pytest.mark.e2e
def test_checkpoint_rebuilds_the_same_model(tiny_run):
    module, config = load_classifier(tiny_run.last)
    assert config.model._target_ == "fer_lightning.models.EmoCNN"
    state = torch.load(tiny_run.last, map_location="cpu", weights_only=True)["state_dict"]
    assert module.state_dict().keys() == state.keys()
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, state[name])
    assert not module.training


def test_bad_checkpoint_paths_are_one_line(tmp_path):
    with pytest.raises(UserError, match="no such checkpoint"):
        load_classifier(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_classifier(tmp_path / "junk.ckpt")


def test_every_moved_class_is_found_at_its_new_path():
    """A rename that points nowhere would refuse every old checkpoint that names the class."""
    assert OLD_LOGGER in MOVED
    for old, new in MOVED.items():
        assert is_allowed(new), new
        assert not is_allowed(old), old  # the old path is gone: only the rename reaches it


@pytest.mark.e2e
def test_a_checkpoint_naming_the_old_logger_path_loads_and_evaluates(tiny_run, tmp_path):
    """Runs saved before the logger moved to fer_lightning.training name it by its old path."""
    checkpoint = torch.load(tiny_run.best, map_location="cpu", weights_only=True)
    checkpoint["hyper_parameters"]["config"]["logger"] = {
        "csv": {"_target_": OLD_LOGGER, "save_dir": str(tiny_run.dir), "name": "", "version": ""}
    }
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)

    logger = read_checkpoint(old)["hyper_parameters"]["config"]["logger"]["csv"]
    assert logger["_target_"] == MOVED[OLD_LOGGER]
    module, config = load_classifier(old)
    assert config.logger.csv._target_ == MOVED[OLD_LOGGER]
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, checkpoint["state_dict"][name])
    result = evaluate(compose_train([f"ckpt_path={old}"], tmp_path, "eval"))
    assert result["test/acc"] == pytest.approx(tiny_run.metrics["test/acc"], abs=1e-6)
