"""The config tree: experiments build on their base, each setting is defined in one file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from fer_lightning import conf
from fer_lightning.config import register_resolvers

CONF = Path(conf.__path__[0])
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
COMMANDS = sorted(p.stem for p in CONF.glob("*.yaml"))
SEED_MODELS = {f"seed_emo{n}": f"Emo{'' if n == 1 else n}CNN" for n in range(1, 7)}


def compose_hydra(config: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The config a command would run with, its ``hydra`` node included (run folder /RUN)."""
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("fer_lightning.conf", version_base="1.3"):
            cfg = compose(config, overrides=list(overrides), return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = "/RUN"
        cfg.hydra.job.num = 0
    return cfg


def composed(config: str, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The resolved job config (``hydra`` left out), as the command's task receives it."""
    cfg = compose_hydra(config, overrides)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return OmegaConf.to_container(cfg, resolve=True)


def without(cfg: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``cfg`` without the dotted ``keys``."""
    cfg = OmegaConf.to_container(OmegaConf.create(cfg))
    for key in keys:
        *parents, last = key.split(".")
        node = cfg
        for parent in parents:
            node = node[parent]
        del node[last]
    return cfg


@pytest.mark.e2e
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_names_its_run(experiment):
    cfg = composed("train", [f"experiment={experiment}"])
    model = compose_hydra("train", [f"experiment={experiment}"]).hydra.runtime.choices.model
    assert model in cfg["run_name"]


@pytest.mark.parametrize("experiment", sorted(SEED_MODELS))
def test_seed_experiments_keep_the_reports_recipe(experiment):
    cfg = composed("train", [f"experiment={experiment}"])
    n = experiment.removeprefix("seed_emo")
    assert cfg["model"]["_target_"] == f"fer_lightning.models.{SEED_MODELS[experiment]}"
    assert cfg["run_name"] == f"emo{n}"
    assert cfg["data"]["split"] == "random" and cfg["data"]["train_ratio"] == 0.8  # seed_protocol
    assert cfg["data"]["batch_size"] == 1024
    assert cfg["aug"]["name"] == "colorjitter"
    assert cfg["optimizer"]["_target_"] == "torch.optim.Adam" and cfg["optimizer"]["lr"] == 1e-3
    scheduler = cfg["scheduler"]
    assert scheduler["_target_"] == "torch.optim.lr_scheduler.StepLR" and scheduler["gamma"] == 0.1
    # Emo5CNN, the report's best run, trained longer: lr / 10 every 15 epochs over 45.
    step, epochs = (15, 45) if n == "5" else (10, 30)
    assert (scheduler["step_size"], cfg["trainer"]["max_epochs"]) == (step, epochs)


# (experiment, its base, what may differ): each experiment is its base plus these keys.
DERIVED = [
    *[(f"seed_emo{n}", "seed_emo1", ["model", "run_name"]) for n in (2, 3, 4, 6)],
    ("seed_emo5", "seed_emo1", ["model", "run_name", "scheduler.step_size", "trainer.max_epochs"]),
    ("seed_emo5_noaug", "seed_emo5", ["aug"]),
    ("seed_emo5_fixed_lr", "seed_emo5", ["scheduler", "optimizer.lr"]),
    ("fer_sota_plateau", "fer_sota", ["scheduler", "run_name"]),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("experiment", "base", "differs"), DERIVED)
def test_derived_experiments_differ_from_their_base_only_where_they_say(experiment, base, differs):
    derived = composed("train", [f"experiment={experiment}"])
    assert without(derived, *differs) == without(
        composed("train", [f"experiment={base}"]), *differs
    )


def test_command_line_overrides_win_over_an_inherited_experiment():
    cfg = composed("train", ["experiment=seed_emo3", "data=fer2013_dev", "trainer.max_epochs=5"])
    assert cfg["model"]["_target_"] == "fer_lightning.models.Emo3CNN"
    assert (cfg["data"]["split"], cfg["data"]["test_usage"]) == ("usage", "PublicTest")
    assert cfg["trainer"]["max_epochs"] == 5 and cfg["data"]["batch_size"] == 1024
    cfg = composed("train", ["experiment=seed_emo3", "model=emo1"])
    assert cfg["model"]["_target_"] == "fer_lightning.models.EmoCNN" and cfg["run_name"] == "emo1"


@pytest.mark.e2e
@pytest.mark.parametrize("model", MODELS)
def test_the_network_input_follows_the_augmentation_crop(model):
    sizes = {
        aug: composed("train", [f"model={model}", f"aug={aug}"])["model"]["input_size"]
        for aug in ("none", "standard", "tencrop", "fer_cpu")
    }
    assert sizes == {"none": 48, "standard": 48, "tencrop": 40, "fer_cpu": 40}
    cfg = composed("train", [f"model={model}", "aug=tencrop", "model.input_size=44"])
    assert cfg["model"]["input_size"] == 44


def test_only_experiments_and_searches_edit_other_groups():
    """An aug or model file that set keys of another group would hide where a value comes from."""
    global_files = {
        str(p.relative_to(CONF))
        for p in CONF.rglob("*.yaml")
        if "@package _global_" in p.read_text()
    }
    allowed = {f"experiment/{e}.yaml" for e in EXPERIMENTS} | {"hparams_search/optuna.yaml"}
    assert global_files <= allowed


@pytest.mark.e2e
def test_the_run_folder_is_defined_in_one_file():
    files = []
    for path in CONF.rglob("*.yaml"):
        node = yaml.safe_load(path.read_text()) or {}
        rel = path.relative_to(CONF)
        if rel.parts[0] != "hydra":  # a primary or _global_ file: its hydra node
            node = node.get("hydra") or {}
        if isinstance(node.get("run"), dict) and "dir" in node["run"]:
            files.append(str(rel))
    assert files == ["hydra/default.yaml"]
    run_dir = yaml.safe_load((CONF / "hydra" / "default.yaml").read_text())["run"]["dir"]
    cases = [(c, []) for c in COMMANDS] + [("train", [f"experiment={e}"]) for e in EXPERIMENTS]
    for config, overrides in cases:
        cfg = compose_hydra(config, overrides)
        assert OmegaConf.to_container(cfg.hydra.run)["dir"] == run_dir, (config, overrides)


def test_eval_tests_with_the_trainer_group_on_one_process_without_logs():
    trainer = yaml.safe_load((CONF / "trainer" / "default.yaml").read_text())
    cfg = composed("eval")
    assert set(trainer) <= set(cfg["trainer"])
    assert cfg["trainer"]["_target_"] == trainer["_target_"]
    assert cfg["trainer"]["default_root_dir"] == "/RUN"
    eval_only = {"devices": 1, "precision": None, "logger": False, "enable_checkpointing": False}
    assert {k: cfg["trainer"][k] for k in eval_only} == eval_only
    # Any trainer of the group; precision stays the run's own.
    cfg = composed("eval", ["trainer=gpu", "trainer.limit_test_batches=2"])
    assert cfg["trainer"]["accelerator"] == "gpu" and cfg["trainer"]["precision"] is None
    assert cfg["trainer"]["limit_test_batches"] == 2
