"""Batch norm folded into the convolution before it, for inference.

In eval mode a batch norm is an affine map per channel, so it can live in the preceding conv's
weights and bias: one operation less per layer, the same function up to rounding.
"""

from __future__ import annotations

import copy
import itertools

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batch_norms(net: nn.Module) -> nn.Module:
    """An eval-mode copy of ``net`` with every Conv2d -> BatchNorm2d pair (adjacent children of
    one Sequential) fused into the conv; the batch norm becomes an Identity. ``net`` is untouched
    (its layers stay as trained, for activation pictures and export)."""
    folded = copy.deepcopy(net).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in itertools.pairwise(names):
            conv, norm = module._modules[first], module._modules[second]
            if (
                isinstance(conv, nn.Conv2d)
                and isinstance(norm, nn.BatchNorm2d)
                and norm.track_running_stats
                and norm.running_mean is not None
            ):
                module._modules[first] = fuse_conv_bn_eval(conv, norm)
                module._modules[second] = nn.Identity()
    return folded
