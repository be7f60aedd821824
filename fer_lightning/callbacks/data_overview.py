"""The data set at a glance before training: sample faces per class and the class balance."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
from lightning.pytorch.utilities import rank_zero_only

from fer_lightning.callbacks.class_metrics import tensorboards
from fer_lightning.plots import class_distribution, faces_per_class, save

log = logging.getLogger(__name__)


class DataOverview(L.Callback):
    """Writes ``samples_per_class.png`` and ``class_distribution.png`` at the start of fit."""

    def __init__(self, output_dir: str, per_class: int = 8) -> None:
        self.output_dir = Path(output_dir)
        self.per_class = per_class

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dm = trainer.datamodule
        faces = getattr(dm, "faces", None)
        if faces is None:
            return
        train = dm.indices["train"]
        figures = {
            "samples_per_class": faces_per_class(
                faces.images[train], faces.labels[train], self.per_class
            ),
            "class_distribution": class_distribution(
                {
                    name: faces.class_counts(index)
                    for name, index in dm.indices.items()
                    if len(index)
                }
            ),
        }
        for name, fig in figures.items():
            path = save(fig, self.output_dir / f"{name}.png")
            for logger in tensorboards(trainer):
                logger.experiment.add_figure(f"data/{name}", fig, global_step=0, close=False)
            plt.close(fig)
            log.info("Wrote %s", path)
