"""Lightning callbacks that tests put into a run from the command line (``+callbacks.x=...``)."""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L


class CrashAtFitStart(L.Callback):
    """A bug inside fit, on purpose: an exception that is no user's mistake."""

    def __init__(self, crash: bool = True) -> None:
        self.crash = crash

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.crash:
            raise RuntimeError("a bug, on purpose")


class SlowTest(L.Callback):
    """Marks the start of the test loop with a file and slows each test batch, so a signal sent
    when the file appears lands inside the loop."""

    def __init__(self, marker: str, seconds: float = 0.2) -> None:
        self.marker = Path(marker)
        self.seconds = seconds

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self.marker.touch()
        time.sleep(self.seconds)
