"""Generated FER+ data: the released folders (label.csv beside PNGs) and a vote file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fer_lightning.data import FERDataModule
from fer_lightning.data.labels import EMOTIONS, FERPLUS_EMOTIONS, USAGES
from tests.helpers.runs import TINY_FACES

# FER+'s folder of each FER2013 Usage.
FERPLUS_DIRS = {
    "Training": "FER2013Train",
    "PublicTest": "FER2013Valid",
    "PrivateTest": "FER2013Test",
}


def votes_for(n: int, seed: int = 0) -> np.ndarray:
    """Ten votes per face: mostly a clear majority, every fifth face split 4/4/2, every
    seventh mostly not a face (dropped by every scheme)."""
    rng = np.random.default_rng(seed)
    votes = np.zeros((n, 10), dtype=np.uint8)
    for i in range(n):
        own = rng.integers(0, 8)
        if i % 7 == 6:
            votes[i, 9], votes[i, own] = 8, 2
        elif i % 5 == 4:
            votes[i, own], votes[i, (own + 1) % 8], votes[i, (own + 2) % 8] = 4, 4, 2
        else:
            votes[i, own] = 7
            votes[i, rng.integers(0, 10)] += 3
    return votes


def make_ferplus(root: Path, sizes=(30, 10, 10), box: bool = True, seed: int = 0):
    """FER+'s layout with random faces; returns (images, votes, usage) in folder order."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    images = rng.integers(0, 256, (n, 48, 48), dtype=np.uint8)
    votes = votes_for(n, seed)
    usage = np.repeat(np.arange(3, dtype=np.int8), sizes)
    for code, folder in enumerate(FERPLUS_DIRS.values()):
        (root / folder).mkdir(parents=True)
        with (root / folder / "label.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            for i in np.flatnonzero(usage == code):
                name = f"fer{i:07d}.png"
                Image.fromarray(images[i]).save(root / folder / name, compress_level=0)
                writer.writerow([name, *(["(0, 0, 48, 48)"] if box else []), *votes[i]])
    return images, votes, usage


# FER2013's emotion -> FER+'s column of the same emotion.
TO_FERPLUS = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "sad": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
}
VOTE_COLUMNS = [*FERPLUS_EMOTIONS, "unknown", "NF"]


def write_votes(path: Path, seed: int = 0) -> np.ndarray:
    """A fer2013new.csv for the tiny run's faces; returns the votes [N, 10]."""
    dm = FERDataModule(source="synthetic", synthetic_size=TINY_FACES)
    faces = dm.load()
    rng = np.random.default_rng(seed)
    votes = np.zeros((len(faces), 10), dtype=int)
    for i, label in enumerate(faces.labels):
        own = FERPLUS_EMOTIONS.index(TO_FERPLUS[EMOTIONS[label]])
        kind = i % 10
        if kind == 8:  # an "unknown" majority
            votes[i, 8], votes[i, own] = 7, 3
        elif kind == 9:  # not a face
            votes[i, 9] = 10
        elif kind == 7:  # ambiguous: 4 / 4 / 2, no majority
            votes[i, own], votes[i, (own + 1) % 8], votes[i, (own + 2) % 8] = 4, 4, 2
        else:
            votes[i, own] = 6 + kind % 3
            votes[i, rng.integers(0, 8)] += 10 - votes[i].sum()
    table = pd.DataFrame(votes, columns=VOTE_COLUMNS)
    table.insert(0, "Image name", [f"fer{i:07d}.png" for i in range(len(faces))])
    table.insert(0, "Usage", [USAGES[u] for u in faces.usage])
    table.to_csv(path, index=False)
    return votes
