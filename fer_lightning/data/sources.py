"""Turn a data source (a CSV, an image-folder tree, FER+'s image folders, or the built-in
generator) into a FaceSet."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_lightning.data.cache import cached, file_stamp
from fer_lightning.data.csv_source import check_file, read_fer_csv
from fer_lightning.data.faces import FaceSet
from fer_lightning.data.ferplus_folder import (
    ferplus_folder_stamp,
    list_ferplus_folder,
    read_ferplus_folder,
)
from fer_lightning.data.folder_source import folder_stamp, list_folder, read_face_folder
from fer_lightning.errors import DataError

SOURCES = ("csv", "folder", "ferplus_folder", "synthetic")
WHAT_TO_GET = {
    "csv": ("data file", "fer2013.csv (Kaggle)"),
    "folder": ("folder", "the FER2013 image folders"),
    "ferplus_folder": (
        "folder",
        "FER2013 and FER+ (github.com/microsoft/FERPlus), write the FER+ folders with its "
        "generate_training_data.py",
    ),
}


def synthetic_faces(num_faces: int, seed: int = 0) -> FaceSet:
    """The built-in cartoon faces, with Usage 80/10/10 like FER2013's Training/Public/Private."""
    from fer_lightning.data.synthetic import generate_faces

    images, labels = generate_faces(num_faces, seed=seed)
    n_train, n_public = round(0.8 * num_faces), round(0.1 * num_faces)
    usage = np.full(num_faces, 2, dtype=np.int8)
    usage[:n_train] = 0
    usage[n_train : n_train + n_public] = 1
    return FaceSet(images=images, labels=labels, usage=usage, source=f"synthetic(seed={seed})")


def load_faces(
    source: str,
    path: str | Path | None = None,
    *,
    on_bad_rows: str = "error",
    cache_dir: str | Path | None = None,
    synthetic_size: int = 10_000,
    synthetic_seed: int = 0,
) -> FaceSet:
    """Load a data set from ``source``; files are parsed once and then read from the cache."""
    if source == "synthetic":
        return synthetic_faces(synthetic_size, synthetic_seed)
    if source not in SOURCES:
        raise DataError(f"data.source={source!r} is unknown: use one of {', '.join(SOURCES)}")
    if path is None:
        raise DataError(
            "data.path is not set: give the FER2013 CSV, e.g. "
            "data.path=/path/to/fer2013.csv, or try data=synthetic"
        )
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        what, get = WHAT_TO_GET[source]
        raise DataError(
            f"no {what} at {resolved}: download {get} and pass data.path=..., "
            "or try the built-in data with data=synthetic"
        )
    cache = Path(cache_dir).expanduser() if cache_dir else None
    options = {"source": source, "on_bad_rows": on_bad_rows}
    if source == "csv":
        check_file(resolved)
        return cached(
            resolved,
            file_stamp(resolved),
            options,
            cache,
            lambda: read_fer_csv(resolved, on_bad_rows),
        )
    if source == "ferplus_folder":  # the cache keeps the votes too, and checks them
        ferplus_listing = list_ferplus_folder(resolved, on_bad_rows)
        return cached(
            resolved,
            ferplus_folder_stamp(ferplus_listing),
            options,
            cache,
            lambda: read_ferplus_folder(resolved, on_bad_rows, listing=ferplus_listing),
            with_votes=True,
        )
    listing = list_folder(resolved, on_bad_rows)  # listed once: for the stamp and the reader
    return cached(
        resolved,
        folder_stamp(resolved, on_bad_rows, listing),
        options,
        cache,
        lambda: read_face_folder(resolved, on_bad_rows, listing=listing),
    )
