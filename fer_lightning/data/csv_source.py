"""Reader for the Kaggle ``fer2013.csv`` form (plain or gzip): vectorized, with row context.

The pixel column is parsed in chunks by joining the strings and letting numpy parse them in C,
about 16x faster than the per-row split of the report's code, without its float32 copy of the
whole set. Every problem found ends in a ``DataError`` naming the file and the 1-based row.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import IMAGE_SIZE, NUM_CLASSES, NUM_PIXELS, USAGES
from fer_lightning.errors import DataError

CHUNK_ROWS = 4096  # bounds the joined string at about 35 MB


def check_file(path: Path) -> None:
    """Fail with one line if ``path`` is not a readable, non-empty file."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")


def _where(path: Path, row: int) -> str:
    """1-based data row, and the file line (the header is line 1)."""
    return f"{path}: row {row + 1} (line {row + 2})"


def read_fer_csv(path: str | Path) -> FaceSet:
    """Read a FER2013-style CSV: ``pixels`` required, ``emotion`` and ``Usage`` optional."""
    path = Path(path)
    check_file(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV file ({first})") from None
    frame.columns = frame.columns.str.strip()  # icml_face_data.csv writes ' Usage', ' pixels'
    if "pixels" not in frame.columns:
        found = ", ".join(repr(c) for c in frame.columns)
        raise DataError(
            f"{path}: no 'pixels' column (found {found}); a FER2013 CSV has the "
            "columns emotion, pixels and optionally Usage"
        )
    if len(frame) == 0:
        raise DataError(f"{path}: has a header but no rows")

    images = parse_pixels(frame["pixels"], path)
    labels = (
        parse_labels(frame["emotion"], path)
        if "emotion" in frame.columns
        else np.full(len(frame), -1, dtype=np.int64)
    )
    usage = (
        parse_usage(frame["Usage"], path)
        if "Usage" in frame.columns
        else np.full(len(frame), -1, dtype=np.int8)
    )
    return FaceSet(images=images, labels=labels, usage=usage, source=str(path))


def parse_pixels(column: pd.Series, path: Path) -> np.ndarray:
    """Space-separated pixel strings -> uint8 [N, 48, 48]."""
    n = len(column)
    images = np.empty((n, NUM_PIXELS), dtype=np.uint8)
    strings = column.to_numpy()
    for start in range(0, n, CHUNK_ROWS):
        chunk = strings[start : start + CHUNK_ROWS]
        try:
            with warnings.catch_warnings():
                # Older numpy warns and stops at a token that is not a number; newer raises.
                warnings.simplefilter("error", DeprecationWarning)
                values = np.fromstring(" ".join(chunk), dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            values = np.empty(0, dtype=np.int64)
        if values.size != len(chunk) * NUM_PIXELS:
            _raise_first_bad_row(chunk, start, path)
        values = values.reshape(len(chunk), NUM_PIXELS)
        bad = (values < 0) | (values > 255)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(
                f"{_where(path, start + row)}: pixel {col + 1} is "
                f"{values[row, col]}, outside 0..255"
            )
        images[start : start + len(chunk)] = values
    return images.reshape(n, IMAGE_SIZE, IMAGE_SIZE)


def _raise_first_bad_row(chunk: np.ndarray, start: int, path: Path) -> None:
    """Slow path, only taken on bad input: find and name the first bad row of a chunk."""
    for offset, text in enumerate(chunk):
        tokens = text.split()
        for position, token in enumerate(tokens, start=1):
            if not token.lstrip("+-").isdigit():
                raise DataError(
                    f"{_where(path, start + offset)}: pixel {position} is "
                    f"{token[:20]!r}, not an integer"
                )
        if len(tokens) != NUM_PIXELS:
            raise DataError(
                f"{_where(path, start + offset)}: {len(tokens)} pixel values, "
                f"expected {NUM_PIXELS} (48x48)"
            )
    raise DataError(
        f"{path}: rows {start + 1}..{start + len(chunk)}: pixel values could not be parsed"
    )


def parse_labels(column: pd.Series, path: Path) -> np.ndarray:
    """Emotion strings -> int64 labels in 0..6."""
    values = pd.to_numeric(column.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    valid = np.isfinite(values) & (values == np.round(values))
    valid &= (values >= 0) & (values < NUM_CLASSES)
    if not valid.all():
        row = int(np.flatnonzero(~valid)[0])
        raise DataError(
            f"{_where(path, row)}: emotion {column.iloc[row]!r} is not a label in "
            f"0..{NUM_CLASSES - 1}"
        )
    return values.astype(np.int64)


def parse_usage(column: pd.Series, path: Path) -> np.ndarray:
    """Usage strings -> int8 indices into USAGES."""
    codes = column.str.strip().map({name: i for i, name in enumerate(USAGES)})
    missing = codes.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{_where(path, row)}: Usage {column.iloc[row]!r} is not one of {', '.join(USAGES)}"
        )
    return codes.to_numpy(dtype=np.int8)
