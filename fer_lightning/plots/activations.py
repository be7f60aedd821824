"""Pictures of what a network's stages respond to: feature-map grids and first-layer filters.

Each stage becomes one picture (rows: faces, columns: the input, then the stage's feature maps,
each min-max normalized on its own so weak maps stay visible); the first convolution's filters
get a picture of their own. The training callback and ``fer_lightning.visualize`` draw these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.nn import functional as F

from fer_lightning.models.stages import capture_activations, first_conv
from fer_lightning.plots.files import render

GAP = 2  # pixels between the cells of a grid
DEAD = 0.85  # the gray of a constant feature map


def normalize_maps(maps: Tensor) -> Tensor:
    """Each [h, w] map to [0, 1] on its own; a constant (dead) map becomes all zeros."""
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    span = hi - lo
    return torch.where(span > 0, (maps - lo) / span.clamp_min(1e-12), torch.zeros_like(maps))


def _colour(values: Tensor, cmap: str) -> np.ndarray:
    """[..., h, w] in [0, 1] -> RGB [..., h, w, 3] floats."""
    return matplotlib.colormaps[cmap](values.clamp(0, 1).numpy())[..., :3]


def mosaic(cells: Sequence[np.ndarray | None], columns: int, gap: int = GAP) -> np.ndarray:
    """RGB cells of one size laid out row by row, ``gap`` white pixels apart (None: blank)."""
    h, w = next(c for c in cells if c is not None).shape[:2]
    rows = -(-len(cells) // columns)
    out = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, 3))
    for i, cell in enumerate(cells):
        if cell is not None:
            r, c = divmod(i, columns)
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = cell
    return out


def activation_mosaic(
    inputs: Tensor, maps: Tensor, max_channels: int | None = 32, wrap: int | None = None
) -> tuple[np.ndarray, int]:
    """(RGB grid, columns): per face its input (gray) and feature maps (viridis), input-sized.

    A constant map (a channel that does not respond to this face at all, common after ReLU) is
    drawn light gray, apart from a map that is merely weak. Without ``wrap`` each face is one
    row; with it (one face) the cells wrap every ``wrap``.
    """
    size = tuple(inputs.shape[-2:])
    maps = maps[:, :max_channels] if max_channels else maps
    shown = normalize_maps(maps)
    if tuple(shown.shape[-2:]) != size:  # nearest: a 12x12 map shows its 144 values as blocks
        shown = F.interpolate(shown, size=size, mode="nearest")
    constant = (maps.amax(dim=(-2, -1)) == maps.amin(dim=(-2, -1))).numpy()
    face = normalize_maps(inputs[:, :1])[:, 0]
    cells: list[np.ndarray | None] = []
    for n in range(len(maps)):
        cells.append(np.repeat(face[n].numpy()[..., None], 3, axis=-1))
        coloured = _colour(shown[n], "viridis")
        coloured[constant[n]] = DEAD
        cells += list(coloured)
    columns = wrap or (shown.shape[1] + 1)
    return mosaic(cells, columns), columns


def activation_figure(
    inputs: Tensor,
    maps: Tensor,
    row_labels: Sequence[str],
    title: str,
    max_channels: int | None = 32,
    wrap: int | None = None,
) -> Figure:
    """One stage: rows = faces, columns = the input then channels 0, 1, ... (or wrapped)."""
    grid, columns = activation_mosaic(inputs, maps, max_channels, wrap)
    h, w = inputs.shape[-2:]
    rows = -(-grid.shape[0] // (h + GAP))
    cell_in = 0.5 if wrap is None else 0.8
    fig, ax = plt.subplots(figsize=(1.0 + columns * cell_in, 0.8 + rows * cell_in))
    ax.imshow(grid, interpolation="nearest")
    shown = min(maps.shape[1], max_channels or maps.shape[1])
    if wrap is None:
        ax.set_xticks(
            [(w + GAP) * c + w / 2 for c in range(columns)],
            ["input", *map(str, range(shown))],
            fontsize=6,
        )
        ax.set_yticks([(h + GAP) * r + h / 2 for r in range(rows)], list(row_labels), fontsize=8)
        ax.tick_params(length=0)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        for i, label in enumerate(["input", *map(str, range(shown))]):
            r, c = divmod(i, columns)
            ax.text(
                (w + GAP) * c + 1,
                (h + GAP) * r + 1,
                label,
                color="white",
                fontsize=6,
                va="top",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 0.5, "linewidth": 0},
            )
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def filters_figure(conv: nn.Conv2d, title: str, columns: int = 8) -> Figure:
    """The first layer's filters, summed over input channels (red +, blue -).

    The input channels are copies of one gray image, so their sum is the filter that the gray
    face actually meets; each filter is scaled by its own largest weight, keeping the sign.
    """
    weight = conv.weight.detach().float().cpu().sum(dim=1)  # [out, k, k]
    scale = weight.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    values = (weight / scale + 1) / 2
    k = weight.shape[-1]
    factor = max(1, 24 // k)  # blocks of pixels: a 3x3 filter as 24x24
    big = values.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    columns = min(columns, len(big))
    grid = mosaic(list(_colour(big, "RdBu_r")), columns)
    rows = -(-len(big) // columns)
    fig, ax = plt.subplots(figsize=(0.6 + columns * 0.6, 0.8 + rows * 0.6))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def stage_pictures(
    net: nn.Module,
    x: Tensor,
    row_labels: Sequence[str],
    max_channels: int | None = 32,
    wrap: bool = False,
    note: str = "",
) -> tuple[Tensor, dict[str, np.ndarray]]:
    """(logits, {stage name or ``filters``: RGB picture}) for the faces ``x`` [N, C, h, w].

    ``wrap`` (for a single face): the cells of a stage fill a block about twice as wide as high
    instead of one long row.
    """
    logits, maps = capture_activations(net, x)
    pictures: dict[str, np.ndarray] = {}
    suffix = f"; {note}" if note else ""
    for name, m in maps.items():
        channels, (h, w) = m.shape[1], m.shape[-2:]
        cells = min(channels, max_channels or channels) + 1
        columns = math.ceil(math.sqrt(2 * cells)) if wrap else None
        part = f"first {max_channels} of " if max_channels and channels > max_channels else ""
        title = f"{name}: {part}{channels} channels, {h}x{w}\n"
        title += f"each map on its own scale, gray: constant{suffix}"
        fig = activation_figure(x.cpu(), m, row_labels, title, max_channels, columns)
        pictures[name] = render(fig)
    conv = first_conv(net)
    if conv is not None:
        name, layer = conv
        k = "x".join(map(str, layer.kernel_size))
        title = f"{name} filters, {k}{suffix}\n"
        title += f"sum over the {layer.in_channels} input channels; red +, blue -"
        pictures["filters"] = render(filters_figure(layer, title))
    return logits, pictures
