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

from fer_lightning.errors import DataError

# The fix for a metrics.csv that is not the log this run wrote; its rows stay in the moved file.
MOVE_ASIDE = (
    "it is not the CSV log this run writes; move it aside (e.g. rename it metrics.old.csv) "
    "and run again: the run starts a new metrics.csv"
)


class KeepingWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv`` instead of deleting it.

    A file there that is not such a log (a folder, binary content, a step that is no number) is
    refused before anything is written, in one line: the log's rows are never overwritten.
    """

    def _check_log_dir_exists(self) -> None:
        if self._fs.exists(self.metrics_file_path):
            self.metrics_keys = next(iter(self.read()), [])

    def read(self) -> list[list[str]]:
        """The saved log's lines as fields, the header first."""
        path = self.metrics_file_path
        if not self._fs.isfile(path):
            raise DataError(f"{path} is no file: {MOVE_ASIDE}")
        try:
            with self._fs.open(path, "r", newline="") as file:
                lines = list(csv.reader(file))
        except (UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path} cannot be read as text ({error}): {MOVE_ASIDE}") from None
        return lines

    def forget_from(self, step: int) -> int:
        """Drop the saved rows logged at ``step`` or later; returns how many were dropped."""
        if not self._fs.exists(self.metrics_file_path):
            return 0
        header, *lines = self.read() or [[]]
        rows = []
        for number, line in enumerate(lines, start=2):
            row = dict(zip(header, line, strict=False))
            try:
                row_step = int(float(row["step"])) if row.get("step") else None
            except (ValueError, OverflowError):
                raise DataError(
                    f"{self.metrics_file_path} row {number}: step {row['step']!r} is not a "
                    f"number: {MOVE_ASIDE}"
                ) from None
            if line:  # a blank line is no row
                rows.append((row, row_step))
        kept = [row for row, row_step in rows if row_step is None or row_step < step]
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
