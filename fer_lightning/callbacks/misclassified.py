"""The test faces the model gets most confidently wrong: label noise, ambiguity or bias."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from torch import Tensor

from fer_lightning.callbacks.shared import (
    EpochPredictions,
    class_names_of,
    scalar_step,
    tensorboards,
)
from fer_lightning.plots.files import save_figure
from fer_lightning.plots.predictions import misclassified_figure

log = logging.getLogger(__name__)


class Misclassified(EpochPredictions):
    """``misclassified_test.png`` (and ``.csv``): the ``count`` most confident wrong test answers.

    The raw faces come from the datamodule's test split, matched by position: the test batches
    must be the split in order (or its first faces, with ``limit_test_batches``), in one process.
    """

    stages = ("test",)

    def __init__(self, output_dir: str, count: int = 32) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        super().__init__()
        self.output_dir = Path(output_dir)
        self.count = count

    @rank_zero_only
    def on_predictions(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        stage: str,
        probs: Tensor,
        labels: Tensor,
    ) -> None:
        if trainer.world_size > 1:
            rank_zero_warn("Misclassified needs a single process (global test indices); skipped")
            return
        confidence, pred = probs.max(dim=-1)
        wrong = torch.nonzero(pred != labels).squeeze(1)
        if not len(wrong):
            log.info("Misclassified: no wrong test predictions to show")
            return
        index = wrong[confidence[wrong].topk(min(self.count, len(wrong))).indices]
        dm = trainer.datamodule
        split = dm.dataset(dm.test_split) if hasattr(dm, "dataset") else None
        # The tested faces are the split's first ones (all, unless limit_test_batches cut it).
        tested = None if split is None else split.labels[: len(labels)].cpu().long()
        if tested is None or not torch.equal(tested, labels):
            rank_zero_warn(
                "Misclassified: the test batches are not the datamodule's test split in order; "
                "skipped"
            )
            return
        names = class_names_of(pl_module)
        true, guess, sure = labels[index].tolist(), pred[index].tolist(), confidence[index]
        fig = misclassified_figure(
            split.images[index].cpu().numpy(),
            true,
            guess,
            sure.tolist(),
            names,
            f"Most confident wrong test predictions ({len(index)} of {len(wrong)} wrong, "
            f"{len(labels)} faces)",
        )
        path = save_figure(fig, self.output_dir / "misclassified_test.png")
        for logger in tensorboards(trainer):
            logger.experiment.add_figure(
                "test/misclassified", fig, global_step=scalar_step(trainer), close=False
            )
        plt.close(fig)
        pd.DataFrame(
            {
                "index": index.numpy(),
                "true": [names[k] for k in true],
                "pred": [names[k] for k in guess],
                "confidence": sure.numpy(),
            }
        ).to_csv(self.output_dir / "misclassified_test.csv", index=False)
        log.info("Wrote %s", path)
