"""Lightning's loggers, adjusted: a CSV log that survives resumes, a tidier TensorBoard.

``ResumableCSVLogger``: Lightning's CSVLogger, made to keep every row of a run across any
number of resumes.

Lightning's writer deletes an existing ``metrics.csv`` when it starts, so a run resumed with
``ckpt_path=last`` lost every row logged before the interruption (seen: all of the first
epoch's), and it writes rows only every 100 steps, so a killed run lost the rows since then.
Here an existing file is kept and appended to, rows are on disk whenever a checkpoint is, and
a resumed run first drops the rows logged after its checkpoint (it logs them again).
"""

from __future__ import annotations

import csv
from typing import Any

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only


class KeepingWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv`` instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])

    def forget_from(self, step: int) -> int:
        """Drop the saved rows logged at ``step`` or later; returns how many were dropped."""
        if not self._fs.isfile(self.metrics_file_path):
            return 0
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            rows = list(csv.DictReader(file))
        kept = [r for r in rows if not r.get("step") or int(float(r["step"])) < step]
        if len(kept) < len(rows):
            with self._fs.open(self.metrics_file_path, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)
        return len(rows) - len(kept)


class ResumableCSVLogger(CSVLogger):
    """``logger.csv`` of the default config: Lightning's CSVLogger with a keeping writer."""

    @property
    @rank_zero_experiment
    def experiment(self) -> KeepingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = KeepingWriter(log_dir=self.log_dir)
        return self._experiment

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        # What a checkpoint holds, the log holds too: a kill loses neither.
        self.save()


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's, with the ``epoch`` it adds to every logging call filed under ``step/``.

    Alone at the top level, ``epoch`` was the first card of TensorBoard's dashboards; beside
    ``step/lr`` and ``step/train_loss`` it is where per-step values are.
    """

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if "epoch" in metrics:
            metrics = {("step/epoch" if k == "epoch" else k): v for k, v in metrics.items()}
        super().log_metrics(metrics, step)
