"""A run config read from a checkpoint: no resolver runs, each target only in its slot, nothing
written outside the run, no resume option recorded that did not happen.

Each case tampers with a real checkpoint's config and asserts one refused line and that the
payload did nothing (the victim file unchanged, no folder made).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from fer_lightning.errors import UserError
from fer_lightning.inference.classifier import Classifier, load_classifier
from fer_lightning.runs.allowed_targets import is_allowed, targets
from fer_lightning.training.fit import train
from tests.helpers.checkpoints import one_error_line, tampered
from tests.helpers.commands import run_cli
from tests.helpers.configs import compose_train
from tests.helpers.paths import ROOT
from tests.helpers.runs import train_tiny

OPEN_VICTIM = "{{_target_: builtins.open, _args_: ['{victim}', w]}}"
RESOLVED_PAYLOADS = {
    "oc.create": "${{oc.create:" + OPEN_VICTIM + "}}",
    "oc.decode": '${{oc.decode:"' + OPEN_VICTIM + '"}}',
    "oc.env": "${{oc.env:HOME}}",
    "unknown": "${{no_such_resolver:x}}",
    "nested in ours": "${{fer_basename:${{oc.create:" + OPEN_VICTIM + "}}}}",
    "inside text": "x ${{oc.create:" + OPEN_VICTIM + "}} y",
    "escaped": "\\${{oc.create:" + OPEN_VICTIM + "}}",
    "hydra": "${{hydra:runtime.output_dir}}",
}
PLACES = {
    "model": lambda config, value: config["model"].update(payload=value),
    "a list": lambda config, value: config["data"].update(extra=[1, value]),
    "a callback": lambda config, value: config["callbacks"]["model_checkpoint"].update(x=value),
}


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("precious")
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("payload", list(RESOLVED_PAYLOADS))
def test_a_resolver_in_a_stored_config_is_refused_and_never_runs(
    tiny_run, tmp_path, victim, payload, place
):
    value = RESOLVED_PAYLOADS[payload].format(victim=victim)
    ckpt = tampered(tiny_run.last, tmp_path, lambda config: PLACES[place](config, value))
    with pytest.raises(UserError, match=r"refused: its config value .*(resolver|interpolation)"):
        load_classifier(ckpt)
    assert victim.read_text() == "precious"


@pytest.mark.e2e
def test_a_plain_reference_resolves_and_its_target_is_checked(tiny_run, tmp_path, victim):
    """``${a.b}`` is allowed, and the target it resolves to is what gets checked."""

    def point_target_elsewhere(config):
        config["spare"] = {"name": "builtins.open"}
        config["model"]["_target_"] = "${spare.name}"

    with pytest.raises(UserError, match=r"'builtins.open' \(model._target_\)"):
        load_classifier(tampered(tiny_run.last, tmp_path, point_target_elsewhere))

    def plain_reference(config):
        config["model"]["num_classes"] = "${data.num_classes_copy}"
        config["data"]["num_classes_copy"] = 7

    _, config = load_classifier(tampered(tiny_run.last, tmp_path, plain_reference))
    assert config.model.num_classes == 7


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["fer_lightning.eval", "fer_lightning"])
def test_the_reported_attack_leaves_the_file_on_eval_and_resume(
    tiny_run, tmp_path, victim, command
):
    value = RESOLVED_PAYLOADS["oc.create"].format(victim=victim)
    ckpt = tampered(tiny_run.last, tmp_path, lambda config: PLACES["model"](config, value))
    line = one_error_line(run_cli([f"ckpt_path={ckpt}"], tmp_path, 300, command))
    assert "'oc.create'" in line
    assert victim.read_text() == "precious"


WRONG_SLOTS = [
    ("model", "lightning.pytorch.Trainer", "model builds a network"),
    ("model", "lightning.pytorch.loggers.TensorBoardLogger", "model builds a network"),
    ("model", "lightning.pytorch.callbacks.ModelCheckpoint", "model builds a network"),
    ("model", "torch.nn.Linear", "model builds a network of fer_lightning.models"),
    ("callbacks.x", "lightning.pytorch.loggers.CSVLogger", "builds a callback"),
    ("callbacks.x", "optuna.samplers.TPESampler", "builds a callback"),
    ("callbacks.x", "lightning.pytorch.callbacks.LambdaCallback", "Python functions"),
    ("callbacks.x", "fer_lightning.models.EmoCNN", "builds a callback"),
    ("callbacks.x", "fer_lightning.callbacks.shared.no_such", "no such class"),
    ("logger.x", "lightning.pytorch.callbacks.ModelCheckpoint", "builds a logger"),
    ("logger.x", "fer_lightning.training.loggers.no_such", "no such class"),
    ("optimizer", "torch.optim.lr_scheduler.StepLR", "not an optimizer"),
    ("scheduler", "torch.optim.SGD", "builds a learning-rate scheduler"),
    ("trainer", "lightning.pytorch.callbacks.ModelCheckpoint", "not the trainer"),
    ("data", "fer_lightning.models.EmoCNN", "builds a data module"),
    ("aug.transforms[0]", "torch.optim.SGD", "builds an augmentation"),
    ("hydra.sweeper", "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper", ""),
    ("spare", "fer_lightning.models.EmoCNN", "no config key of a fer_lightning run builds"),
]


def put(config: dict, key: str, node: dict) -> None:
    *parents, last = key.replace("[0]", ".0").split(".")
    for part in parents:
        config = config.setdefault(part, {})
    if last == "0":
        config.clear()
        config["transforms"] = [node]
    else:
        config[last] = node


@pytest.mark.e2e
@pytest.mark.parametrize(("key", "target", "why"), WRONG_SLOTS)
def test_a_target_outside_its_slot_is_one_refused_line(tiny_run, tmp_path, key, target, why):
    def edit(config):
        if key == "aug.transforms[0]":
            config["aug"]["transforms"] = [{"_target_": target}]
        elif key in ("model", "optimizer", "scheduler", "trainer", "data"):
            config[key]["_target_"] = target
        else:
            put(config, key, {"_target_": target})

    with pytest.raises(UserError, match=rf"refused: its config would build '{target}' .*{why}"):
        load_classifier(tampered(tiny_run.last, tmp_path, edit))


@pytest.mark.e2e
@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_a_logger_whose_package_is_missing_is_refused_on_resume(tiny_run, tmp_path):
    def wandb(config):
        config["logger"] = {"w": {"_target_": "lightning.pytorch.loggers.WandbLogger"}}

    ckpt = tampered(tiny_run.last, tmp_path, wandb)
    with pytest.raises(UserError, match=r"WandbLogger.*needs wandb.*not installed"):
        train(compose_train([f"ckpt_path={ckpt}"], tmp_path))


def shipped_target_keys() -> list[tuple[str, str]]:
    """(config key, target) of every target in the shipped config groups, as a run holds it."""
    found = []
    for file in sorted((ROOT / "conf").rglob("*.yaml")):
        group = file.parent.relative_to(ROOT / "conf").as_posix()
        if group in (".", "hparams_search", "hydra", "hydra/launcher"):
            continue  # command configs and Hydra's own: never stored in a checkpoint
        config = OmegaConf.to_container(OmegaConf.load(file), resolve=False)
        package = "" if "@package _global_" in file.read_text() else group
        found += [(key, t) for key, t in targets(config, package) if t != "null"]
    return found


@pytest.mark.parametrize(("key", "target"), shipped_target_keys())
def test_every_shipped_target_is_allowed_in_its_slot(key, target):
    assert is_allowed(target, key), (key, target)


@pytest.mark.e2e
def test_eval_and_predict_never_write_the_stored_data_cache(tiny_run, tmp_path):
    elsewhere = tmp_path / "elsewhere"

    def cache_elsewhere(config):
        config["data"]["cache_dir"] = str(elsewhere)

    ckpt = tampered(tiny_run.last, tmp_path, cache_elsewhere)
    assert Classifier(ckpt, device="cpu").datamodule.hparams.cache_dir is None
    chosen = Classifier(ckpt, device="cpu", data={"cache_dir": str(tmp_path / "mine")})
    assert chosen.datamodule.hparams.cache_dir == str(tmp_path / "mine")


WRITES_ELSEWHERE = {
    "checkpoint dirpath": ("callbacks", "last_checkpoint", "dirpath", "{elsewhere}"),
    "checkpoint filename": ("callbacks", "last_checkpoint", "filename", "../../../escaped"),
    "interrupt dirpath": ("callbacks", "save_on_interrupt", "dirpath", "{elsewhere}"),
    "logger save_dir": ("logger", "csv", "save_dir", "{elsewhere}"),
    "logger name": ("logger", "csv", "name", "../../escaped"),
    "trainer root": ("trainer", None, "default_root_dir", "{elsewhere}"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", list(WRITES_ELSEWHERE))
def test_a_resume_never_writes_where_the_stored_config_points_outside_the_run(
    tiny_run, tmp_path, case
):
    section, name, key, value = WRITES_ELSEWHERE[case]
    elsewhere = tmp_path / "elsewhere"
    value = value.format(elsewhere=elsewhere)

    def edit(config):
        if section == "logger":
            config["logger"] = {"csv": {"_target_": "lightning.pytorch.loggers.CSVLogger"}}
            config["logger"]["csv"]["save_dir"] = config["paths"]["output_dir"]
        node = config[section] if name is None else config[section][name]
        node[key] = value

    ckpt = tampered(tiny_run.last, tmp_path, edit)
    with pytest.raises(UserError, match=rf"refused: its config sets {section}\..*{key}="):
        train(compose_train([f"ckpt_path={ckpt}", "trainer.max_epochs=2"], tmp_path / "b"))
    assert not elsewhere.exists() and not (tmp_path / "escaped").exists()


@pytest.mark.e2e
def test_a_resume_takes_paths_and_the_cache_from_this_command(tiny_run, tmp_path):
    def elsewhere(config):
        config["paths"]["log_dir"] = str(tmp_path / "foreign_logs")
        config["data"]["cache_dir"] = str(tmp_path / "foreign_cache")

    ckpt = tampered(tiny_run.last, tmp_path, elsewhere)
    metrics = train(compose_train([f"ckpt_path={ckpt}", "trainer.max_epochs=2"], tmp_path / "b"))
    assert metrics["epochs"] == 2
    resumed = torch.load(tmp_path / "b/run/checkpoints/last.ckpt", weights_only=True)
    config = resumed["hyper_parameters"]["config"]
    assert config["paths"]["log_dir"] != str(tmp_path / "foreign_logs")
    assert config["data"]["cache_dir"] != str(tmp_path / "foreign_cache")
    assert not (tmp_path / "foreign_logs").exists() and not (tmp_path / "foreign_cache").exists()


def files_of(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["copied", "moved"])
def test_a_copied_or_moved_run_tests_its_own_best_checkpoint(tmp_path, how, caplog):
    """Resumed after its last epoch (killed in its test), the run only tests its best."""
    original = train_tiny(tmp_path / "a", "test=false")
    before = files_of(original.dir)
    there = tmp_path / "b" / "run"
    there.parent.mkdir()
    (shutil.copytree if how == "copied" else shutil.move)(original.dir, there)
    caplog.set_level("INFO")
    last = there / "checkpoints" / "last.ckpt"
    metrics = train(compose_train([f"ckpt_path={last}", "test=true"], tmp_path / "b"))
    assert "test/acc" in metrics
    loaded = [m for m in caplog.messages if "from the checkpoint" in m or "checkpoint at" in m]
    assert len(loaded) >= 2 and all(str(there) in m for m in loaded), loaded
    if how == "copied":
        assert files_of(original.dir) == before  # nothing of the original was read or written


@pytest.mark.e2e
@pytest.mark.parametrize(
    "override", ["optimizer.lr=50", "seed=7", "data.batch_size=8", "loss.label_smoothing=0.3"]
)
def test_a_resume_refuses_an_option_it_cannot_take_up(tiny_run, tmp_path, override):
    with pytest.raises(UserError, match=rf"so {override} would not take effect"):
        train(compose_train([f"ckpt_path={tiny_run.last}", override], tmp_path))
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.e2e
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_a_gpu_device_without_a_gpu_is_one_line(tiny_run, device):
    with pytest.raises(UserError, match=rf"device={device}: this machine has no CUDA GPU"):
        Classifier(tiny_run.last, device=device)
