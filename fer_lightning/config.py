"""What every part needs from the config tree: where it is, its resolvers, building a group.

Library code (training, evaluation, tests, benchmarks) takes these from here, never from
``cli``, which is only the command wrapper around Hydra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fer_lightning.runs import folders

# conf/ at the top of the checkout; the wheel ships it as the package fer_lightning.conf.
CONFIG_PATH = "pkg://fer_lightning.conf"


def register_resolvers() -> None:
    """The config's own resolvers; Hydra needs them before it names the run folder."""
    # The run folder's name carries the process id: two runs started in the same second differ.
    OmegaConf.register_new_resolver("fer_pid", folders.pid, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("fer_run_dir", folders.run_dir, replace=True)
    OmegaConf.register_new_resolver("fer_hydra_subdir", folders.hydra_subdir, replace=True)
    # The run folder's name (TensorBoard's run name); empty where there is no folder yet
    # (--cfg job prints the config before Hydra sets one).
    OmegaConf.register_new_resolver(
        "fer_basename", lambda path: Path(path).name if path else "", replace=True
    )


def instantiate_all(group: DictConfig | None) -> list[Any]:
    """Every entry of a group of named configs (callbacks, loggers); null entries are off."""
    if not group:
        return []
    return [instantiate(c) for c in group.values() if c is not None and "_target_" in c]
