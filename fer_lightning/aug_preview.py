"""`python -m fer_lightning.aug_preview aug=NAME`: see what an augmentation group trains on.

The same faces (one per emotion, then one more) from the train split, first as they are, then
as several independent training draws of the group, written as ``aug_preview_<name>.png``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import numpy as np
import torch
from omegaconf import DictConfig

from fer_lightning.cli import command
from fer_lightning.data.datamodule import datamodule_from_config
from fer_lightning.data.labels import EMOTIONS

log = logging.getLogger("fer_lightning")


def preview_faces(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Indices of one face per emotion (while there are emotions left), then random ones."""
    rng = np.random.default_rng(seed)
    picks = [
        int(rng.choice(np.flatnonzero(labels == c)))
        for c in range(len(EMOTIONS))
        if (labels == c).any()
    ][:count]
    rest = np.setdiff1d(np.arange(len(labels)), picks)
    picks += rng.choice(rest, size=max(0, count - len(picks)), replace=False).tolist()
    return np.array(picks)


def preview(cfg: DictConfig) -> Path:
    L.seed_everything(cfg.seed, workers=True)
    dm = datamodule_from_config(cfg.data, cfg.aug, cfg.model.num_classes)
    augmentation = dm.augmentation
    dm.setup("fit")
    train = dm.dataset("train")
    index = torch.from_numpy(preview_faces(train.labels.numpy(), cfg.num_faces, cfg.seed))
    images, labels = train.images[index], train.labels[index]
    hp = dm.hparams
    rows = [images.float().div(255)]
    if augmentation.train_crop == "ten":
        crops = dm.preprocess(images, labels, train=True)[0]
        x = crops.view(len(index), 10, *crops.shape[1:])  # face-major: ten crops per face
        rows += [x[:, v, 0] * hp.std + hp.mean for v in range(10)]
    else:
        for _ in range(cfg.draws):
            x = dm.preprocess(images, labels, train=True)[0]
            rows.append(x[:, 0] * hp.std + hp.mean)
    fig, axes = plt.subplots(
        len(rows), len(index), figsize=(len(index) * 1.1, len(rows) * 1.15), squeeze=False
    )
    for r, row in enumerate(rows):
        for c in range(len(index)):
            ax = axes[r, c]
            ax.imshow(row[c].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(EMOTIONS[labels[c]], fontsize=8)
        kind = "crop" if augmentation.train_crop == "ten" else "draw"
        axes[r, 0].set_ylabel("original" if r == 0 else f"{kind} {r}", fontsize=8)
    fig.suptitle(f"aug={cfg.aug.name}: training draws on the device", fontsize=10)
    fig.tight_layout()
    path = Path(cfg.paths.output_dir) / f"aug_preview_{cfg.aug.name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def task(cfg: DictConfig) -> Path:
    path = preview(cfg)
    log.info("Wrote %s", path)
    return path


main = command("aug_preview")(task)

if __name__ == "__main__":
    main()
