"""Shared fixtures: generated FER-style CSVs, the shared real data, composed train configs."""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from fer_lightning.data.labels import NUM_PIXELS, USAGES

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
