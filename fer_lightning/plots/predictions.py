"""Figures of a model's predictions: confusion matrices, confident mistakes, one face's answer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from torch import Tensor


def confusion_figure(counts: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """Counts beside the row-normalized matrix (each row: recall of that true class)."""
    counts = np.asarray(counts, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(class_names)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6))
    panels = (
        (axes[0], counts, max(int(counts.max()), 1), "d", "faces", "Counts"),
        (axes[1], recall, 1.0, ".2f", "fraction of the true class", "Row-normalized (recall)"),
    )
    for ax, data, vmax, fmt, bar_label, panel_title in panels:
        image = ax.imshow(data, cmap="Blues", vmin=0, vmax=vmax)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=bar_label)
        ax.set_xticks(range(n), class_names, rotation=40, ha="right")
        ax.set_yticks(range(n), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(panel_title, fontsize=10)
        for i in range(n):
            for j in range(n):
                value = data[i, j]
                color = "white" if value > vmax / 2 else "black"
                ax.text(j, i, format(value, fmt), ha="center", va="center", color=color, fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


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


def probabilities_figure(
    face: np.ndarray, probs: Tensor, class_names: list[str], title: str
) -> Figure:
    """The face as the network got it, beside a bar per emotion (the prediction in colour)."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(7.5, 3.0), gridspec_kw={"width_ratios": [1, 2.2]}
    )
    left.imshow(face, cmap="gray", vmin=0, vmax=255)
    left.set_axis_off()
    left.set_title("input (48x48 gray)", fontsize=9)
    values = probs.numpy() * 100
    best = int(values.argmax())
    colours = ["tab:orange" if i == best else "tab:gray" for i in range(len(values))]
    y = np.arange(len(values))
    bars = right.barh(y, values, color=colours)
    right.bar_label(bars, fmt="%.1f%%", fontsize=8, padding=2)
    right.set_yticks(y, class_names)
    right.invert_yaxis()
    right.set_xlim(0, 115)
    right.set_xlabel("probability (%)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def per_class_figure(table: pd.DataFrame, title: str) -> Figure:
    """Precision, recall and F1 per class (a classification report's class rows) as bars."""
    scores = ("precision", "recall", "f1")
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(table), 3.4))
    x = np.arange(len(table))
    width = 0.8 / len(scores)
    for i, score in enumerate(scores):
        bars = ax.bar(x + (i - 1) * width, table[score], width, label=score)
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    names = [f"{name}\n({int(n)})" for name, n in table["support"].items()]
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.2)  # room for the legend above the bars
    ax.set_ylabel("score")
    ax.set_title(f"{title} (faces per class in brackets)", fontsize=10)
    ax.legend(fontsize=8, ncol=3, loc="upper center")
    fig.tight_layout()
    return fig
