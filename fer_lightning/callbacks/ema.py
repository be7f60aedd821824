"""EMA of the weights through Lightning's ``WeightAveraging``, with a warm-up of its decay.

Two changes to Lightning's ``EMAWeightAveraging``, nothing else hand-written:

- The decay warms up, ``min(decay, (1 + n) / (10 + n))`` after n updates (TensorFlow's
  ``ExponentialMovingAverage(num_updates=...)``). With a fixed 0.999 the average of the first
  epochs is mostly the random initial weights, mixed with batch-norm statistics that do not fit
  them, so early validation judges a far worse model than the one training (docs/recipes.md).
- After fit the averaged model is dropped. Lightning's callback otherwise loads a checkpoint's
  ``current_model_state`` (the raw weights) in a later ``trainer.test``, so the test would judge
  other weights than the averaged ones validation selected.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch import Tensor


class EMAWithWarmup:
    """``multi_avg_fn`` of torch's ``AveragedModel``: an EMA whose decay grows to ``decay``.

    One call per device and dtype updates every tensor (torch's ``_foreach`` kernels), and the
    decay stays a tensor on the device: a per-tensor ``avg_fn`` launched four kernels and waited
    for the GPU once per tensor, about 60 times a step for CompactVGG. Integer buffers (batch
    norm's ``num_batches_tracked``) are counts, copied rather than averaged.
    """

    def __init__(self, decay: float = 0.999) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        self.decay = decay

    @torch.no_grad()
    def __call__(self, averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        n = num_averaged.to(averaged[0].dtype)
        decay = torch.clamp((1.0 + n) / (10.0 + n), max=self.decay)
        torch._foreach_mul_(averaged, decay)
        torch._foreach_add_(averaged, torch._foreach_mul(current, 1.0 - decay))


class EMA(WeightAveraging):
    """Validation, checkpoints and the test use the averaged weights (buffers included)."""

    def __init__(self, decay: float = 0.999, device: Any = None, use_buffers: bool = True):
        super().__init__(device=device, use_buffers=use_buffers, multi_avg_fn=EMAWithWarmup(decay))

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._average_model = None

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # Outside fit the checkpoint's state_dict (the averaged weights) is what should load;
        # Lightning's callback only warns there that it cannot restore its state.
        if self._average_model is not None:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
