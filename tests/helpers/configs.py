"""Configs composed as the entry points compose them, and the choices of the config tree."""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from fer_lightning.config import register_resolvers


def compose_train(overrides: Sequence[str], tmp_path: Path, config: str = "train") -> DictConfig:
    """Compose conf/<config>.yaml as the entry point would, with its run folder in tmp_path."""
    register_resolvers()  # a command registers them when it starts; the run folder needs them
    GlobalHydra.instance().clear()
    with initialize_config_module("fer_lightning.conf", version_base="1.3"):
        cfg = compose(config, overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "run")
        cfg.hydra.job.num = 0
    (tmp_path / "run").mkdir(parents=True, exist_ok=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    GlobalHydra.instance().clear()
    return cfg


# Every network a run can choose: the files of conf/model (the package fer_lightning.conf).
MODELS = sorted(
    entry.name.removesuffix(".yaml")
    for entry in importlib.resources.files("fer_lightning.conf").joinpath("model").iterdir()
    if entry.name.endswith(".yaml")
)
