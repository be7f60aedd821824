"""Generated FER2013-style faces and the CSV text that holds them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fer_lightning.data.labels import NUM_PIXELS, USAGES


def fer_rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random images, labels and Usage codes in the in-memory form."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, size=n).astype(np.int64)
    usage = rng.integers(0, 3, size=n).astype(np.int8)
    return images, labels, usage


def csv_text(
    images: np.ndarray,
    labels: np.ndarray | None,
    usage: np.ndarray | None,
    columns: Sequence[str] = ("emotion", "pixels", "Usage"),
) -> str:
    lines = [",".join(columns)]
    for i, image in enumerate(images):
        fields = {
            "emotion": str(labels[i]) if labels is not None else "",
            "pixels": " ".join(map(str, image.reshape(NUM_PIXELS).tolist())),
            "Usage": USAGES[usage[i]] if usage is not None else "",
        }
        lines.append(",".join(fields[c.strip()] for c in columns))
    return "\n".join(lines) + "\n"
