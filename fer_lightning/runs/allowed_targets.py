"""What a config read from a file may build: each ``_target_`` checked in its slot first.

A checkpoint carries its run's config, and evaluation, prediction, export and resuming rebuild
the run from it; Hydra's ``instantiate`` calls whatever ``_target_`` names, so a checkpoint
from elsewhere could otherwise call ``builtins.open`` or ``os.system``. A target is allowed
only in its slot (the config key that holds it): ``model`` builds one of the project's
networks, ``callbacks.<name>`` a Lightning callback, ``logger.<name>`` a logger whose package is
installed, ``optimizer`` a torch optimizer, and so on, so nothing is built "as the model" that
is not a network. Within a slot, allowed are classes of the slot's kind inside the packages the
shipped configs use there (every shipped target is one), so a run that swapped one by its
class still evaluates. A module is imported to check a class only when its package is one of
the slot's, since importing a module can itself run code.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from fer_lightning.errors import UserError

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


@dataclass(frozen=True)
class Slot:
    """Where a target may stand (a pattern of config keys) and what it may build there."""

    what: str
    keys: re.Pattern[str]
    packages: tuple[str, ...]
    bases: tuple[str, ...]


SLOTS = (
    Slot("a network", re.compile(r"model"), ("fer_lightning.models.",), ("torch.nn.Module",)),
    Slot(
        "a data module",
        re.compile(r"data"),
        ("fer_lightning.data.",),
        ("lightning.pytorch.LightningDataModule",),
    ),
    Slot(
        "an augmentation",
        re.compile(r"aug\.transforms(\.[^.\[]+|\[\d+\])"),
        ("kornia.augmentation.", "torchvision.transforms.v2.", "fer_lightning.data."),
        ("torch.nn.Module",),
    ),
    Slot("an optimizer", re.compile(r"optimizer"), ("torch.optim.",), ("torch.optim.Optimizer",)),
    Slot(
        "a learning-rate scheduler",
        re.compile(r"scheduler"),
        ("torch.optim.lr_scheduler.",),
        ("torch.optim.lr_scheduler.LRScheduler", "torch.optim.lr_scheduler.ReduceLROnPlateau"),
    ),
    Slot("the trainer", re.compile(r"trainer"), ("lightning.pytorch.",), ("lightning.Trainer",)),
    Slot(
        "a callback",
        re.compile(r"callbacks\.[^.\[]+"),
        ("fer_lightning.callbacks.", "lightning.pytorch.callbacks."),
        ("lightning.pytorch.Callback",),
    ),
    Slot(
        "a logger",
        re.compile(r"logger\.[^.\[]+"),
        ("fer_lightning.training.loggers.", "lightning.pytorch.loggers."),
        ("lightning.pytorch.loggers.Logger",),
    ),
)
# Classes of an allowed kind that only make sense with code the config cannot hold.
REFUSED = {
    "lightning.pytorch.callbacks.LambdaCallback": "its hooks are Python functions",
}


def slot_of(key: str) -> Slot | None:
    return next((s for s in SLOTS if s.keys.fullmatch(key)), None)


def load_class(target: str) -> Any:
    """The object a dotted path names, or None (no such module or attribute, not installed)."""
    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            return functools.reduce(getattr, parts[i:], obj)
        except AttributeError:
            return None
    return None


def subclass_of(obj: Any, bases: tuple[str, ...]) -> bool:
    return isinstance(obj, type) and any(issubclass(obj, load_class(b)) for b in bases)


def missing_requirement(cls: type) -> str | None:
    """The package a Lightning class needs and lacks (``WandbLogger`` without wandb), if any.

    Lightning's logger modules say what they need as ``_<NAME>_AVAILABLE`` requirement objects,
    false when the package is missing.
    """
    module = sys.modules.get(cls.__module__)
    for name, value in vars(module).items() if module else ():
        requirement = type(value).__name__ == "RequirementCache"
        if requirement and re.fullmatch(r"_[A-Z]+_AVAILABLE", name) and not value:
            return str(getattr(value, "requirement", name))
    return None


def refusal(target: str, key: str) -> str | None:
    """Why ``target`` may not stand at config key ``key`` (None: it may)."""
    if target in REFUSED:
        return REFUSED[target]
    slot = slot_of(key)
    if slot is None:
        return "no config key of a fer_lightning run builds anything there"
    if not target.startswith(slot.packages):
        return f"{key} builds {slot.what} of {' or '.join(p.rstrip('.') for p in slot.packages)}"
    cls = load_class(target)
    if cls is None:
        return "no such class (or its package is not installed)"
    if not subclass_of(cls, slot.bases):
        return f"it is not {slot.what} ({key} builds {slot.what})"
    needs = missing_requirement(cls)
    if needs:
        return f"it needs {needs}, which is not installed"
    return None


# One key of each slot, to ask whether a target is allowed anywhere.
SLOT_EXAMPLES = ("model", "data", "aug.transforms.x", "optimizer", "scheduler", "trainer")
SLOT_EXAMPLES += ("callbacks.x", "logger.x")


def is_allowed(target: str, key: str | None = None) -> bool:
    """May ``target`` be built at config key ``key`` (None: in some slot)?"""
    keys = SLOT_EXAMPLES if key is None else (key,)
    return any(refusal(target, k) is None for k in keys)


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
    """Refuse, in one line, a config read from ``source`` that would build a target outside
    its slot (``config`` is resolved: the targets checked are the ones Hydra would build)."""
    if isinstance(config, DictConfig | ListConfig):
        config = OmegaConf.to_container(config, resolve=False)
    for key, target in targets(config):
        why = refusal(target, key)
        if why is not None:
            raise UserError(
                f"{source}: refused: its config would build {target!r} ({key}._target_): "
                f"{why}; only load files you trust"
            )
