"""The data set at a glance before training: sample faces per class and the class balance."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
from lightning.pytorch.utilities import rank_zero_only

from fer_lightning.callbacks.shared import class_names_of, resuming, tensorboards
from fer_lightning.plots.data import class_distribution, faces_per_class
from fer_lightning.plots.files import save_figure

log = logging.getLogger(__name__)


class DataOverview(L.Callback):
    """Writes ``samples_per_class.png`` and ``class_distribution.png`` at the start of fit."""

    def __init__(self, output_dir: str, per_class: int = 8) -> None:
        self.output_dir = Path(output_dir)
        self.per_class = per_class

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dm = trainer.datamodule
        # Drawn once per run: a resumed fit would add the same figures to TensorBoard again.
        if resuming(trainer) or not hasattr(dm, "split_counts"):
            return
        train = dm.dataset("train")
        names = class_names_of(pl_module)
        figures = {
            "samples_per_class": faces_per_class(
                train.images.cpu().numpy(), train.labels.cpu().numpy(), self.per_class, names
            ),
            "class_distribution": class_distribution(dm.split_counts()),
        }
        for name, fig in figures.items():
            path = save_figure(fig, self.output_dir / f"{name}.png", dpi=110)
            for logger in tensorboards(trainer):
                tag = f"visuals/data/{name}"
                logger.experiment.add_figure(tag, fig, global_step=0, close=False)
            plt.close(fig)
            log.info("Wrote %s", path)
