"""A run folder's files as the report reads them: a file that does not read is a DataError that
names it, never a traceback.

Run folders come from other machines, from runs killed while writing (``final_metrics.json`` is
written last and not atomically) and from hand edits; a report reads many at once and must say
which file of which run it could not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fer_lightning.errors import DataError


def one_line(error: BaseException) -> str:
    """An error's text on one line (YAML's errors span several)."""
    text = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return " ".join(text.split())


@contextmanager
def read_errors(path: Path) -> Iterator[None]:
    """Any way reading ``path`` (or a value in it) fails, as a DataError naming it."""
    try:
        yield
    except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as error:
        # ValueError: JSON, CSV and UTF-8 decoding errors are all ValueErrors.
        raise DataError(f"{path}: cannot be read ({one_line(error)})") from error


def read_json(path: Path) -> dict[str, Any]:
    with read_errors(path):
        value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise DataError(f"{path}: holds a JSON {type(value).__name__}, not an object")
    return value


def read_yaml(path: Path) -> DictConfig | ListConfig:
    with read_errors(path):
        return OmegaConf.load(path)


def read_config(path: Path) -> DictConfig:
    config = read_yaml(path)
    if not isinstance(config, DictConfig):
        raise DataError(f"{path}: holds a list, not a config")
    return config


def select(config: DictConfig, key: str, path: Path) -> Any:
    """``config``'s value at ``key`` (None where it has none), its interpolations resolved."""
    with read_errors(path):
        return OmegaConf.select(config, key)


def number(value: Any, key: str, path: Path) -> float | int | None:
    """A metric or setting that must be a number (or absent)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise DataError(f"{path}: {key} is {value!r}, not a number")
