"""Probabilities averaged over several views of a face, or over several networks.

The one rule behind evaluation with views (ten-crop, flip test-time augmentation) and ensembles:
average the softmax, not the logits, so each view or member counts as one vote of confidence.
Training's evaluation, ``fer_lightning.eval``, prediction, visualization and the exported model
all compute it here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def average_probabilities(net: nn.Module, x: Tensor) -> Tensor:
    """[B, C, h, w] -> softmax [B, classes]; [B, V, C, h, w] (V views) -> their mean softmax.

    The views of a batch share one pass through the network. Softmax runs in fp32 whatever the
    network's precision: bf16 probabilities sum to 1 only within about 5e-4.
    """
    if x.ndim == 4:
        return net(x).float().softmax(dim=-1)
    views = x.shape[1]
    probs = net(x.flatten(0, 1)).float().softmax(dim=-1)
    return probs.unflatten(0, (-1, views)).mean(dim=1)


class Ensemble(nn.Module):
    """Averages the members' probabilities; returns their log, which softmax maps back."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> Tensor:
        probs = torch.stack([m(x).float().softmax(dim=-1) for m in self.members]).mean(dim=0)
        return probs.clamp_min(1e-12).log()
