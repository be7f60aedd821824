"""What the network's convolutional stages respond to, on the same faces before and after training.

Forward hooks catch the output of every convolutional stage (``models.stages``) for one
validation face per emotion; ``plots.activations`` draws each stage as one picture, and the
first convolution's filters as another. ``fer_lightning.visualize`` draws the same for one image.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from fer_lightning.callbacks.shared import (
    class_names_of,
    resuming,
    scalar_step,
    tensorboards,
)
from fer_lightning.errors import UserError
from fer_lightning.plots.activations import stage_pictures
from fer_lightning.plots.files import save_image

log = logging.getLogger(__name__)


def sample_faces(labels: Tensor | np.ndarray, num_classes: int) -> list[int]:
    """Index of the first face of each class present: the same faces in every run and epoch."""
    labels = np.asarray(labels)
    return [int(np.flatnonzero(labels == c)[0]) for c in range(num_classes) if (labels == c).any()]


class ActivationGrids(L.Callback):
    """Feature maps of every conv stage for one validation face per emotion, at fit start and end.

    Written as ``activations/<when>_<stage>.png`` and ``<when>_filters.png`` (when: ``start``,
    ``end``, ``epochNNN`` every ``every_n_epochs``) and to TensorBoard as
    ``visuals/activations/<stage>`` and ``visuals/activations/filters`` at the step they were
    drawn. Start is drawn before any step, so the pair shows what training changed. The faces go
    in as the network sees them in evaluation, in one view (the centre crop of a cropping run).
    """

    def __init__(
        self, output_dir: str, max_channels: int = 32, every_n_epochs: int | None = None
    ) -> None:
        self.output_dir = Path(output_dir)
        self.max_channels = max_channels
        self.every_n_epochs = every_n_epochs
        self.faces: Tensor | None = None
        self.labels: list[str] = []

    def _faces(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Tensor | None:
        """The sample faces as the network's input, chosen once (None: no validation data)."""
        if self.faces is None:
            dm = trainer.datamodule
            if dm is None or not hasattr(dm, "preprocess"):
                log.warning("ActivationGrids: no FERDataModule, no activation grids")
                return None
            try:
                val = dm.dataset("val")
            except UserError as error:
                log.warning("ActivationGrids: no validation faces (%s)", error)
                return None
            names = class_names_of(pl_module)
            index = torch.tensor(sample_faces(val.labels.cpu(), len(names)))
            images, labels = val.images[index.to(val.images.device)], val.labels.cpu()[index]
            view = dm.augmentation.single_view()
            self.faces = dm.preprocess(images, labels, train=False, augmentation=view)[0].cpu()
            self.labels = [names[int(k)] for k in labels]
        return self.faces

    def draw(self, trainer: L.Trainer, pl_module: L.LightningModule, when: str) -> None:
        faces = self._faces(trainer, pl_module)
        if faces is None:
            return
        _, pictures = stage_pictures(
            pl_module.net, faces, self.labels, self.max_channels, note=when
        )
        folder = self.output_dir / "activations"
        for name, image in pictures.items():
            save_image(image, folder / f"{when}_{name}.png")
            # One tag per stage: TensorBoard's step slider moves from start to end.
            for logger in tensorboards(trainer):
                logger.experiment.add_image(
                    f"visuals/activations/{name}",
                    image,
                    global_step=scalar_step(trainer),
                    dataformats="HWC",
                )
        log.info("Wrote %d activation pictures (%s) to %s", len(pictures), when, folder)

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning restores the weights before this hook: a resumed fit would draw its trained
        # network as "start" over the first process's pictures.
        if resuming(trainer):
            log.info("Resumed: the start activation pictures are kept from the run's first fit")
            return
        self.draw(trainer, pl_module, "start")

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        n = self.every_n_epochs
        if n and (trainer.current_epoch + 1) % n == 0:
            self.draw(trainer, pl_module, f"epoch{trainer.current_epoch:03d}")

    @rank_zero_only
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.draw(trainer, pl_module, "end")
