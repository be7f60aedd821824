"""The test faces the model gets most confidently wrong: label noise, ambiguity or bias."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from matplotlib.figure import Figure
from torch import Tensor

from fer_lightning.callbacks.class_metrics import class_names_of, tensorboards
from fer_lightning.callbacks.confusion import save_png

log = logging.getLogger(__name__)


def misclassified_figure(
    images: np.ndarray,
    true: Sequence[int],
    pred: Sequence[int],
    confidence: Sequence[float],
    class_names: Sequence[str],
    title: str,
    columns: int = 8,
) -> Figure:
    """A grid of uint8 faces [N, H, W], each titled with its true and predicted emotion."""
    columns = max(1, min(columns, len(images)))
    rows = max(1, math.ceil(len(images) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * 1.45, rows * 1.75 + 0.5), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(
            f"true: {class_names[true[i]]}\npred: {class_names[pred[i]]} ({confidence[i]:.2f})",
            fontsize=7,
        )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


class Misclassified(L.Callback):
    """``misclassified_test.png`` (and ``.csv``): the ``count`` most confident wrong test answers.

    Only the index, confidence and classes of the worst ``count`` so far are kept while testing;
    the raw faces come from the datamodule's test split at the end. The index is a running count
    over the (unshuffled) test batches, so this needs one process and one test loader.
    """

    def __init__(self, output_dir: str, count: int = 32) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        self.output_dir = Path(output_dir)
        self.count = count
        self._reset()

    def _reset(self) -> None:
        self._seen = 0
        self._wrong = 0
        empty = torch.empty(0)
        self._index, self._confidence = empty.long(), empty
        self._true, self._pred = empty.long(), empty.long()

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reset()

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if dataloader_idx != 0 or not (isinstance(outputs, dict) and "probs" in outputs):
            return
        probs: Tensor = outputs["probs"].detach()
        confidence, pred = probs.max(dim=-1)
        confidence, pred, true = confidence.cpu(), pred.cpu(), outputs["labels"].cpu()
        wrong = torch.nonzero(pred != true).squeeze(1)
        self._wrong += len(wrong)
        index = torch.cat([self._index, wrong + self._seen])
        conf = torch.cat([self._confidence, confidence[wrong].float()])
        true_all = torch.cat([self._true, true[wrong].long()])
        pred_all = torch.cat([self._pred, pred[wrong]])
        keep = conf.topk(min(self.count, len(conf))).indices  # sorted, most confident first
        self._index, self._confidence = index[keep], conf[keep]
        self._true, self._pred = true_all[keep], pred_all[keep]
        self._seen += len(true)

    @rank_zero_only
    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size > 1:
            rank_zero_warn("Misclassified needs a single process (global test indices); skipped")
            return
        if not len(self._index):
            log.info("Misclassified: no wrong test predictions to show")
            return
        split = self._test_split(trainer)
        if split is None:
            return
        images, labels = split
        index = self._index
        if not torch.equal(labels[index].cpu().long(), self._true):
            rank_zero_warn(
                "Misclassified: the test batches are not the test split in order "
                "(shuffled loader?); skipped"
            )
            return
        names = class_names_of(pl_module)
        fig = misclassified_figure(
            images[index].cpu().numpy(),
            self._true.tolist(),
            self._pred.tolist(),
            self._confidence.tolist(),
            names,
            f"Most confident wrong test predictions ({len(index)} of {self._wrong} wrong, "
            f"{self._seen} faces)",
        )
        path = save_png(fig, self.output_dir / "misclassified_test.png")
        for logger in tensorboards(trainer):
            logger.experiment.add_figure(
                "test/misclassified", fig, global_step=trainer.global_step, close=False
            )
        plt.close(fig)
        pd.DataFrame(
            {
                "index": index.numpy(),
                "true": [names[k] for k in self._true.tolist()],
                "pred": [names[k] for k in self._pred.tolist()],
                "confidence": self._confidence.numpy(),
            }
        ).to_csv(self.output_dir / "misclassified_test.csv", index=False)
        log.info("Wrote %s", path)

    @staticmethod
    def _test_split(trainer: L.Trainer) -> tuple[Tensor, Tensor] | None:
        """The test split's uint8 faces [N, H, W] and labels, from the datamodule."""
        dm = trainer.datamodule
        dataset = dm.dataset("test") if hasattr(dm, "dataset") else None
        if dataset is None or not hasattr(dataset, "images"):
            rank_zero_warn("Misclassified: no datamodule test split with raw images; skipped")
            return None
        return dataset.images, dataset.labels
