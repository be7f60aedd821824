"""Matplotlib figures shared by callbacks and tools (faces grids, class distributions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from fer_lightning.data.labels import EMOTIONS


def faces_per_class(
    images: np.ndarray,
    labels: np.ndarray,
    per_class: int = 8,
    class_names: Sequence[str] = EMOTIONS,
    seed: int = 0,
) -> Figure:
    """The report's figure 1: a row of sample faces for each emotion."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(
        len(class_names),
        per_class,
        figsize=(per_class * 0.9, len(class_names) * 0.95),
        squeeze=False,
    )
    for row, name in enumerate(class_names):
        index = np.flatnonzero(labels == row)
        chosen = rng.choice(index, size=min(per_class, len(index)), replace=False)
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(chosen):
                ax.imshow(images[chosen[col]], cmap="gray", vmin=0, vmax=255)
            else:
                ax.axis("off")
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("Sample faces per emotion", fontsize=10)
    fig.tight_layout()
    return fig


def class_distribution(counts: Mapping[str, Mapping[str, int]]) -> Figure:
    """The report's figure 2: faces per emotion, one group of bars per split."""
    splits = list(counts)
    names = list(next(iter(counts.values())))
    width = 0.8 / max(len(splits), 1)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(names))
    for i, split in enumerate(splits):
        values = [counts[split][n] for n in names]
        bars = ax.bar(x + (i - (len(splits) - 1) / 2) * width, values, width, label=split)
        ax.bar_label(bars, fontsize=6, padding=1)
    ax.set_xticks(x, names)
    ax.set_ylabel("faces")
    ax.set_title("Class distribution per split")
    ax.legend()
    fig.tight_layout()
    return fig
