"""Shared fixtures: generated FER-style CSVs, the shared real data, composed configs, tiny runs."""

from __future__ import annotations

import gzip
import importlib.resources
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from fer_lightning.cli import register_resolvers
from fer_lightning.data.datamodule import FERDataModule
from fer_lightning.data.labels import NUM_PIXELS, USAGES
from fer_lightning.training.fit import train

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "data" / "fer2013" / "fer2013_dev.csv.gz"

# Keep tests off the CPU allocator's and BLAS's extra threads on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Parsed-data caches of test runs stay out of the user's ~/.cache.
os.environ.setdefault("FER_CACHE_DIR", str(Path(tempfile.gettempdir()) / "fer_lightning_tests"))


@pytest.fixture
def shared_csv() -> Path:
    if not SHARED_CSV.exists():
        pytest.skip(f"the shared FER2013 copy is absent ({SHARED_CSV})")
    return SHARED_CSV


def fer_rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random images, labels and Usage codes in the in-memory form."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, size=n).astype(np.int64)
    usage = rng.integers(0, 3, size=n).astype(np.int8)
    return images, labels, usage


def csv_text(
    images: np.ndarray,
    labels: np.ndarray | None,
    usage: np.ndarray | None,
    columns: Sequence[str] = ("emotion", "pixels", "Usage"),
) -> str:
    lines = [",".join(columns)]
    for i, image in enumerate(images):
        fields = {
            "emotion": str(labels[i]) if labels is not None else "",
            "pixels": " ".join(map(str, image.reshape(NUM_PIXELS).tolist())),
            "Usage": USAGES[usage[i]] if usage is not None else "",
        }
        lines.append(",".join(fields[c.strip()] for c in columns))
    return "\n".join(lines) + "\n"


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


@pytest.fixture
def train_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    return lambda overrides=(): compose_train(overrides, tmp_path)


# Every network a run can choose: the files of conf/model (the package fer_lightning.conf).
MODELS = sorted(
    entry.name.removesuffix(".yaml")
    for entry in importlib.resources.files("fer_lightning.conf").joinpath("model").iterdir()
    if entry.name.endswith(".yaml")
)

# The one tiny run of the suite: built-in synthetic faces (80/10/10: 224 train, 28 val and 28
# test faces), two training steps, every validation and test face, checkpoints but no loggers
# or pictures. A test adds what it needs after these: the later of two overrides wins. No model
# or aug here: the default (emo1, none) applies, and an experiment=... keeps its own choices,
# which a model= on the command line would replace.
TINY_FACES = 280
TINY_DATA = ("data=synthetic", f"data.synthetic_size={TINY_FACES}")
TINY_RUN = (
    *TINY_DATA,
    "data.batch_size=16",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "callbacks=minimal",
    "logger=none",
)
# One batch of fit, validation and test (Lightning's fast_dev_run; no checkpoints): does a
# configuration run at all.
TINY = (*TINY_RUN, "trainer=debug")


def tiny_data() -> FERDataModule:
    """The tiny run's data module, built directly: its splits are the faces the run saw."""
    return FERDataModule(source="synthetic", synthetic_size=TINY_FACES, batch_size=16)


def on_data(tiny: Sequence[str], *data: str) -> list[str]:
    """The tiny settings on other data: ``data`` (data=..., data.path=...) for ``TINY_DATA``,
    whose data.synthetic_size another data group does not have."""
    return [*(o for o in tiny if o not in TINY_DATA), *data]


# Everything a real run writes (the default callbacks and loggers) but the progress bar, whose
# redraws would fill the captured output.
ALL_OUTPUTS = ("callbacks=default", "logger=default", "callbacks.progress_bar=null")


@dataclass(frozen=True)
class Run:
    """A finished training run: its folder and the metrics ``train`` returned."""

    dir: Path
    metrics: dict[str, Any]

    @property
    def last(self) -> Path:
        return self.dir / "checkpoints" / "last.ckpt"

    @property
    def best(self) -> Path:
        (best,) = (self.dir / "checkpoints").glob("epoch*.ckpt")
        return best


def events_dir(run_dir: Path) -> Path:
    """Where a run's TensorBoard event files are: tensorboard/<run folder name>/."""
    return run_dir / "tensorboard" / run_dir.name


def train_tiny(tmp_path: Path, *overrides: str) -> Run:
    """Train ``TINY_RUN`` plus ``overrides`` in ``tmp_path/run``."""
    metrics = train(compose_train([*TINY_RUN, *overrides], tmp_path))
    return Run(tmp_path / "run", metrics)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The tiny run, trained once for the session: tests read its folder and never write to it."""
    return train_tiny(tmp_path_factory.mktemp("tiny_run"))


@pytest.fixture(scope="session")
def tencrop_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The tiny run on ten 40x40 crops per face (ten views averaged in evaluation), once."""
    return train_tiny(tmp_path_factory.mktemp("tencrop_run"), "aug=tencrop", "test=false")


def run_cli(
    args: Sequence[str], cwd: Path, timeout: int = 600, module: str = "fer_lightning"
) -> subprocess.CompletedProcess:
    """A command as a user types it (``python -m <module> args``), in ``cwd``."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
