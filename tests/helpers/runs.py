"""The suite's tiny training run: its settings, its data, and runs trained once per session."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from fer_lightning.data.datamodule import FERDataModule
from fer_lightning.training.fit import train
from tests.helpers.configs import compose_train

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

# Two epochs of the tiny run with what the report reads (the saved config, final_metrics.json,
# the loggers' metrics.csv), without the pictures that cost most of a tiny run's time.
REPORTED_RUN = (*TINY_RUN, "logger=default", "trainer.max_epochs=2")

# Everything a real run writes (the default callbacks and loggers) but the progress bar, whose
# redraws would fill the captured output.
ALL_OUTPUTS = ("callbacks=default", "logger=default", "callbacks.progress_bar=null")


def tiny_data() -> FERDataModule:
    """The tiny run's data module, built directly: its splits are the faces the run saw."""
    return FERDataModule(source="synthetic", synthetic_size=TINY_FACES, batch_size=16)


def on_data(tiny: Sequence[str], *data: str) -> list[str]:
    """The tiny settings on other data: ``data`` (data=..., data.path=...) for ``TINY_DATA``,
    whose data.synthetic_size another data group does not have."""
    return [*(o for o in tiny if o not in TINY_DATA), *data]


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


def once_per_session(
    name: str, factory: pytest.TempPathFactory, worker_id: str, make: Callable[[Path], Run]
) -> Run:
    """``make(folder)`` once for the whole test session, however many workers it has.

    Without workers (``worker_id`` "master") this is ``make`` in a fresh folder. With
    pytest-xdist's workers, the first to arrive makes the run in the folder the workers share
    (the parent of their base temporary folders) while holding a file lock; the others wait
    for it and read the same run. Tests read such a run and never write to it.
    """
    if worker_id == "master":
        return make(factory.mktemp(name))
    shared = factory.getbasetemp().parent / name
    shared.mkdir(exist_ok=True)
    done = shared / "metrics.json"
    with FileLock(str(shared / ".lock")):
        if done.is_file():
            stored = json.loads(done.read_text())
            return Run(Path(stored["dir"]), stored["metrics"])
        run = make(shared / "made")
        done.write_text(json.dumps({"dir": str(run.dir), "metrics": run.metrics}))
        return run
