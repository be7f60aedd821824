"""Pictures to files, one way: drawn once, written through a temporary file (fer_lightning.atomic).

A reader (a browser refreshing the run folder, a report) never sees half a picture, and a run
killed while writing keeps the previous one.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from fer_lightning.atomic import replaced_atomically


def render(fig: Figure, dpi: int = 110) -> np.ndarray:
    """The figure as an RGB uint8 array, closed: one drawing for both the PNG and TensorBoard."""
    fig.set_dpi(dpi)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return image


def save_image(image: np.ndarray, path: Path) -> Path:
    """An RGB uint8 array as a PNG."""
    with replaced_atomically(path, "wb") as f:
        Image.fromarray(image).save(f, format="png")
    return path


def save_figure(fig: Figure, path: Path, dpi: int = 100) -> Path:
    """A matplotlib figure as a PNG (left open: it may go to TensorBoard too)."""
    with replaced_atomically(path, "wb") as f:
        fig.savefig(f, dpi=dpi, format="png")
    return path
