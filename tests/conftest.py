"""Fixtures and hooks only; what tests share otherwise is in ``tests/helpers``."""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

# Set before torch starts its thread pools: pytest-xdist's workers share the cores between
# them (2 workers on 2 cores: one thread each), a single process keeps two at most.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_THREADS = str(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))
os.environ.setdefault("OMP_NUM_THREADS", _THREADS)
os.environ.setdefault("MKL_NUM_THREADS", _THREADS)
# Parsed-data caches of test runs stay out of the user's ~/.cache.
os.environ.setdefault("FER_CACHE_DIR", str(Path(tempfile.gettempdir()) / "fer_lightning_tests"))

import pytest  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from tests.helpers.configs import compose_train  # noqa: E402
from tests.helpers.paths import SHARED_CSV  # noqa: E402
from tests.helpers.runs import Run, once_per_session, train_tiny  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "master")


@pytest.fixture
def shared_csv() -> Path:
    if not SHARED_CSV.exists():
        pytest.skip(f"the shared FER2013 copy is absent ({SHARED_CSV})")
    return SHARED_CSV


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write text (or generated rows) to a .csv or .csv.gz file in tmp_path."""

    def write(text: str, name: str = "fer2013.csv") -> Path:
        path = tmp_path / name
        if name.endswith(".gz"):
            with gzip.open(path, "wt") as f:
                f.write(text)
        else:
            path.write_text(text)
        return path

    return write


@pytest.fixture
def train_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    return lambda overrides=(): compose_train(overrides, tmp_path)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The tiny run, trained once for the session (and for all its workers): tests read its
    folder and never write to it."""
    return once_per_session("tiny_run", tmp_path_factory, WORKER, train_tiny)


@pytest.fixture(scope="session")
def tencrop_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The tiny run on ten 40x40 crops per face (ten views averaged in evaluation), once."""
    return once_per_session(
        "tencrop_run",
        tmp_path_factory,
        WORKER,
        lambda folder: train_tiny(folder, "aug=tencrop", "test=false"),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads a trained run (``tiny_run``, ``tencrop_run``) is end to end."""
    for item in items:
        if {"tiny_run", "tencrop_run"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
