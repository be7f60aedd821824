"""The report's comparison figures: test accuracy per run, and each run's curves on one page."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def _value(a: float | None) -> float:
    return 0.0 if a is None or math.isnan(a) else float(a)


def _text(label: str) -> str:
    """A run's label as plain text: matplotlib reads $...$ as mathematics, and a label holds
    overrides and ledger cells, where a dollar sign is only a dollar sign."""
    return label.replace("$", r"\$")


def accuracy_figure(
    accuracies: Sequence[float | None],
    labels: Sequence[str],
    published: Sequence[float | None] | None = None,
) -> Figure:
    """Test accuracy per run, as bars with their values; beside a run with a ``published``
    figure (the seed report's), that figure as a hatched bar."""
    values = [_value(a) for a in accuracies]
    theirs = [_value(p) for p in published or []]
    shown = any(theirs)
    # Horizontal bars: run labels are long ("fer_cpu/.../seed 43"), and read level beside a bar
    # where rotated under it they took most of the figure's height.
    height = 0.4 if shown else 0.8
    fig, ax = plt.subplots(figsize=(8, 1.6 + (0.45 if shown else 0.3) * len(values)))
    y = [i - height / 2 if shown else i for i in range(len(values))]
    bars = ax.barh(y, values, height, label="the run (its test split)")
    ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    if shown:
        mine = [i for i, p in enumerate(theirs) if p]
        report = ax.barh(
            [i + height / 2 for i in mine],
            [theirs[i] for i in mine],
            height,
            color="white",
            edgecolor="tab:gray",
            hatch="//",
            label="the seed report's figure (its own protocol)",
        )
        ax.bar_label(report, fmt="%.3f", fontsize=7, color="tab:gray", padding=2)
        # Below the axes: inside, it covered the values of the longest bars.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2)
    ax.set_yticks(range(len(values)), [_text(label) for label in labels], fontsize=8)
    ax.invert_yaxis()  # the first run on top, as in the results table
    ax.set_xlim(0, 1.1 * max(values + theirs + [0.01]))  # room for the values
    ax.set_xlabel("test accuracy")
    ax.set_title("Test accuracy per configuration")
    fig.tight_layout()
    return fig


def validation_figure(curves: Sequence[pd.DataFrame | None], labels: Sequence[str]) -> Figure:
    """Every run's validation accuracy per epoch, overlaid."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for curve, label in zip(curves, labels, strict=True):
        if curve is not None and "val_acc" in curve:
            series = curve["val_acc"].dropna()
            ax.plot(series.index + 1, series.values, marker="o", markersize=2, label=_text(label))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Validation accuracy per run")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def loss_curves_figure(curves: Sequence[pd.DataFrame | None], labels: Sequence[str]) -> Figure:
    """One panel per run: train against validation loss (and test, where the run plotted it),
    the report's figures 3b-8b side by side."""
    count = max(len(curves), 1)
    columns = min(3, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False, sharey=True
    )
    for ax, curve, label in zip(axes.flat, curves, labels, strict=False):
        ax.set_title(_text(label), fontsize=8)
        ax.grid(alpha=0.3)
        if curve is None:
            continue
        for name, shown in (
            ("train_loss", "train"),
            ("val_loss", "validation"),
            ("test_loss", "test"),
        ):
            if name in curve:
                series = curve[name].dropna()
                ax.plot(series.index + 1, series.values, marker="o", markersize=2, label=shown)
        ax.set_xlabel("epoch", fontsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    fig.suptitle(
        "Loss per epoch (test: evaluated each epoch for the plot only, where shown)", fontsize=10
    )
    fig.tight_layout()
    return fig
