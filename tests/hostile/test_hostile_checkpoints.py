"""A checkpoint from elsewhere: nothing in it runs code, builds an unlisted class, or crashes.

Each case asserts the one line (or exit status 2 and one line on stderr for the commands) and
that the payload did nothing: no marker file, the victim file unchanged.
"""

from __future__ import annotations

import pathlib
import sys

import pytest
import torch
from torch import nn

from fer_lightning.errors import UserError
from fer_lightning.inference.classifier import load_classifier
from fer_lightning.runs.allowed_targets import is_allowed
from tests.helpers.checkpoints import one_error_line, tampered
from tests.helpers.commands import run_cli


class Payload:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture
def real_checkpoint(tiny_run) -> pathlib.Path:
    return tiny_run.last


@pytest.mark.e2e
def test_our_checkpoints_load_as_plain_data(real_checkpoint):
    checkpoint = torch.load(real_checkpoint, map_location="cpu", weights_only=True)
    assert isinstance(checkpoint["hyper_parameters"]["config"], dict)
    module, config = load_classifier(real_checkpoint)
    assert config.model._target_ == "fer_lightning.models.EmoCNN" and not module.training


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command",
    [("fer_lightning.eval", "ckpt_path={ckpt}"), ("fer_lightning", "ckpt_path={ckpt}")],
    ids=["eval", "resume"],
)
def test_pickled_code_is_refused_and_never_runs(real_checkpoint, tmp_path, command):
    marker = tmp_path / "pwned"
    checkpoint = torch.load(real_checkpoint, map_location="cpu", weights_only=True)
    checkpoint["extra"] = Payload(marker)
    evil = tmp_path / "evil.ckpt"
    torch.save(checkpoint, evil)
    module, arg = command
    line = one_error_line(run_cli([arg.format(ckpt=evil)], tmp_path, 300, module))
    assert "refused: it holds Python objects (" in line and str(evil) in line
    assert not marker.exists()


@pytest.mark.e2e
def test_pickled_code_is_refused_by_every_loader(real_checkpoint, tmp_path):
    """eval, predict, export and visualize all rebuild the model through load_classifier."""
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save({"hyper_parameters": {"config": {}}, "x": Payload(marker)}, evil)
    with pytest.raises(UserError, match="refused: it holds Python objects"):
        load_classifier(evil)
    assert not marker.exists()


@pytest.mark.e2e
def test_a_config_target_outside_the_allow_list_is_refused(real_checkpoint, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")

    def open_victim(config):
        config["model"] = {"_target_": "builtins.open", "file": str(victim), "mode": "w"}

    ckpt = tampered(real_checkpoint, tmp_path, open_victim)
    with pytest.raises(UserError, match=r"refused: its config would build 'builtins.open'"):
        load_classifier(ckpt)
    for module in ("fer_lightning.eval", "fer_lightning"):
        line = one_error_line(run_cli([f"ckpt_path={ckpt}"], tmp_path, 300, module))
        assert "'builtins.open' (model._target_)" in line
    assert victim.read_text() == "precious"


@pytest.mark.e2e
def test_a_nested_target_is_checked_too(real_checkpoint, tmp_path):
    marker = tmp_path / "pwned"

    def system_in_aug(config):
        config["aug"]["transforms"] = [{"_target_": "os.system", "_args_": [f"touch {marker}"]}]

    with pytest.raises(UserError, match=r"'os.system' \(aug.transforms\[0\]._target_\)"):
        load_classifier(tampered(real_checkpoint, tmp_path, system_in_aug))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("fer_lightning.models.Emo5CNN", True),
        ("kornia.augmentation.RandomGrayscale", True),  # not in our configs, but its kind
        ("torch.optim.RMSprop", True),
        ("torch.optim.lr_scheduler.ExponentialLR", True),
        ("builtins.open", False),
        ("os.system", False),
        ("torch.load", False),  # inside torch, but not a class of an allowed kind
        ("torch.optim.Optimizer.zero_grad", False),
        ("fer_lightning.runs.folders.write_run_info", False),  # the project's, but a function
        ("kornia.augmentation.no_such_thing", False),
        ("evil_module_that_should_not_be_imported.X", False),
    ],
)
def test_allow_list(target, allowed):
    assert is_allowed(target) is allowed
    assert "evil_module_that_should_not_be_imported" not in sys.modules


def test_a_whole_pickled_model_or_a_list_is_one_line(tmp_path):
    torch.save(nn.Linear(2, 2), tmp_path / "model.ckpt")
    with pytest.raises(UserError, match="refused: it holds Python objects"):
        load_classifier(tmp_path / "model.ckpt")
    torch.save([1, 2, 3], tmp_path / "list.ckpt")
    with pytest.raises(UserError, match="not a fer_lightning checkpoint"):
        load_classifier(tmp_path / "list.ckpt")


@pytest.mark.e2e
def test_weights_that_do_not_fit_the_named_network_are_one_line(real_checkpoint, tmp_path):
    def other_network(config):
        config["model"]["_target_"] = "fer_lightning.models.Emo5CNN"

    ckpt = tampered(real_checkpoint, tmp_path, other_network)
    with pytest.raises(UserError, match=r"weights do not fit the network .*Emo5CNN"):
        load_classifier(ckpt)
    line = one_error_line(run_cli([f"ckpt_path={ckpt}"], tmp_path, 300, "fer_lightning.eval"))
    assert "weights do not fit" in line
