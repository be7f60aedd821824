"""A checkpoint alone rebuilds the trained model."""

import pytest
import torch

from fer_lightning.errors import UserError
from fer_lightning.runs.checkpoints import load_classifier
from fer_lightning.train import train


def test_checkpoint_rebuilds_the_same_model(train_cfg, tmp_path):
    cfg = train_cfg(
        [
            "data=synthetic",
            "data.synthetic_size=280",
            "data.batch_size=32",
            "model=emo2",
            "trainer=cpu",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "callbacks=minimal",
            "logger=none",
            "test=false",
        ]
    )
    train(cfg)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    module, config = load_classifier(last)
    assert config.model._target_.endswith("Emo2CNN")
    state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, state[name])
    assert not module.training


def test_bad_checkpoint_paths_are_one_line(tmp_path):
    with pytest.raises(UserError, match="no such checkpoint"):
        load_classifier(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_classifier(tmp_path / "junk.ckpt")
