"""What a config read from a file may build: ``_target_``s checked before Hydra instantiates.

A checkpoint carries its run's config, and evaluation, prediction, export and resuming rebuild
the run from it; Hydra's ``instantiate`` calls whatever ``_target_`` names, so a checkpoint
from elsewhere could otherwise call ``builtins.open`` or ``os.system``. Allowed: every target
the shipped configs name, and classes of a few kinds inside the packages those configs use (an
optimizer of ``torch.optim``, an augmentation of ``kornia.augmentation``, one of the project's
networks, data modules or callbacks, ...), so a run that swapped one by its class still
evaluates. A module is imported to check a class only when its package is one of those, since
importing a module can itself run code.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from fer_lightning.errors import UserError

TARGET_LINE = re.compile(r"^\s*(?:-\s*)?_target_:\s*([\w.]+)\s*$", re.MULTILINE)


@functools.cache
def shipped_targets() -> frozenset[str]:
    """Every ``_target_`` written in the package's own config files."""
    found: set[str] = set()
    folders = [importlib.resources.files("fer_lightning.conf")]
    while folders:
        for entry in folders.pop().iterdir():
            if entry.is_dir():
                folders.append(entry)
            elif entry.name.endswith(".yaml"):
                found.update(TARGET_LINE.findall(entry.read_text()))
    return frozenset(found - {"null"})


# Classes that moved inside the package: configs saved before the move (in checkpoints that a
# resume, an evaluation or an export reads) name them by their old path.
MOVED = {
    "fer_lightning.loggers.ResumableCSVLogger": "fer_lightning.training.loggers.ResumableCSVLogger",
}


def update_moved(node: Any) -> Any:
    """The config with every moved ``_target_`` renamed (plain containers, changed in place)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "_target_" and value in MOVED:
                node[key] = MOVED[value]
            else:
                update_moved(value)
    elif isinstance(node, list):
        for value in node:
            update_moved(value)
    return node


@functools.cache
def kinds() -> dict[str, tuple[type, ...]]:
    """Package prefix -> the base classes a target there must subclass."""
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import Logger
    from torch import nn, optim

    schedulers = (optim.lr_scheduler.LRScheduler, optim.lr_scheduler.ReduceLROnPlateau)
    return {
        "fer_lightning.": (nn.Module, pl.LightningDataModule, pl.Callback),
        "torch.optim.": (optim.Optimizer, *schedulers),
        "kornia.augmentation.": (nn.Module,),
        "torchvision.transforms.v2.": (nn.Module,),
        "lightning.pytorch.callbacks.": (pl.Callback,),
        "lightning.pytorch.loggers.": (Logger,),
    }


def is_allowed(target: str) -> bool:
    if target in shipped_targets():
        return True
    prefix = next((p for p in kinds() if target.startswith(p)), None)
    if prefix is None:
        return False
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception:  # no such module or attribute: not a class we know
        return False
    return isinstance(obj, type) and issubclass(obj, kinds()[prefix])


def targets(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(config key, target) for every ``_target_`` in a config tree, at any depth."""
    if isinstance(node, DictConfig | dict):
        items = node.items_ex(resolve=False) if isinstance(node, DictConfig) else node.items()
        for key, value in items:
            where = f"{path}.{key}" if path else str(key)
            if key == "_target_" and value is not None:
                yield path or "<root>", str(value)
            else:
                yield from targets(value, where)
    elif isinstance(node, ListConfig | list | tuple):
        for i, value in enumerate(node):
            yield from targets(value, f"{path}[{i}]")


def check_targets(config: Any, source: str | Path) -> None:
    """Refuse, in one line, a config read from ``source`` whose ``_target_``s are not allowed."""
    if isinstance(config, DictConfig | ListConfig):
        config = OmegaConf.to_container(config, resolve=False)
    for key, target in targets(config):
        if not is_allowed(target):
            raise UserError(
                f"{source}: refused: its config would build {target!r} ({key}._target_), "
                "which is not one of fer_lightning's networks, data, callbacks or the torch, "
                "kornia and Lightning classes its configs use; only load files you trust"
            )
