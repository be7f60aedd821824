"""Reader for FER2013 CSVs (plain or gzip): vectorized, and every bad row named.

Reads the Kaggle ``fer2013.csv`` (emotion, pixels, Usage), the challenge page's
``icml_face_data.csv`` (the same with spaces in the header), its ``train.csv`` (no Usage) and
``test.csv`` (pixels only, unlabelled). The pixel column is parsed in chunks by joining the
strings and letting numpy parse them in C while a thread reads the next chunk; gzip is inflated
by ISA-L (python-isal), which is faster than zlib. A per-row split into float32, the report's
way, is the slow path this replaces (timings in docs/speed.md).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import IMAGE_SIZE, NUM_CLASSES, NUM_PIXELS, USAGES
from fer_lightning.errors import DataError

try:  # ISA-L's gzip reader: same format and API as gzip, faster to inflate (docs/speed.md).
    from isal import igzip as fast_gzip
except ImportError:  # pragma: no cover - the dependency is declared; this keeps gzip working
    fast_gzip = gzip

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"

CHUNK_ROWS = 4096  # bounds the joined string at about 35 MB
ON_BAD_ROWS = ("error", "skip")

Problems = dict[int, str]
"""0-based data row -> what is wrong with it."""


def check_file(path: Path) -> None:
    """Fail with one line if ``path`` is not a readable, non-empty file."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(
            f"{path}: is a directory, expected a CSV file (image folders: data=fer2013_folder)"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")


def where(path: Path, row: int) -> str:
    """1-based data row, and the file line (the header is line 1)."""
    return f"{path}: row {row + 1} (line {row + 2})"


def read_fer_csv(path: str | Path, on_bad_rows: str = "error") -> FaceSet:
    """Read a FER2013-style CSV: ``pixels`` required, ``emotion`` and ``Usage`` optional.

    ``on_bad_rows="error"`` stops at the first bad row; ``"skip"`` drops bad rows, keeps every
    clean one, and logs how many were dropped with the first row numbers.
    """
    if on_bad_rows not in ON_BAD_ROWS:
        raise DataError(f"data.on_bad_rows={on_bad_rows!r} is unknown: use error or skip")
    path = Path(path)
    check_file(path)
    problems: Problems = {}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n = 0
    # Chunks bound the memory: only two chunks of CHUNK_ROWS pixel strings exist at a time.
    for frame in read_ahead(read_frames(path)):
        m = len(frame)
        images = parse_pixels(frame["pixels"], problems, n)
        labels = np.full(m, -1, dtype=np.int64)
        if "emotion" in frame.columns:
            labels = parse_labels(frame["emotion"], problems, n)
        usage = np.full(m, -1, dtype=np.int8)
        if "Usage" in frame.columns:
            usage = parse_usage(frame["Usage"], problems, n)
        parts.append((images, labels, usage))
        n += m
    if n == 0:
        raise DataError(f"{path}: has a header but no rows")
    images, labels, usage = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    del parts
    if problems:
        rows = sorted(problems)
        if on_bad_rows == "error":
            raise DataError(
                f"{where(path, rows[0])}: {problems[rows[0]]} (data.on_bad_rows=skip "
                "drops bad rows)"
            )
        if len(rows) == n:
            raise DataError(
                f"{path}: every row is bad, e.g. {where(path, rows[0])}: {problems[rows[0]]}"
            )
        first = ", ".join(str(r + 1) for r in rows[:5])
        log.warning(
            "%s: skipped %d bad row(s) of %d (rows %s%s; first: %s)",
            path,
            len(rows),
            n,
            first,
            ", ..." if len(rows) > 5 else "",
            problems[rows[0]],
        )
        keep = np.ones(n, dtype=bool)
        keep[rows] = False
        images, labels, usage = images[keep], labels[keep], usage[keep]
    skipped = np.array(sorted(problems), dtype=np.int64) if problems else None
    return FaceSet(
        images=images, labels=labels, usage=usage, source=str(path), skipped_rows=skipped
    )


def read_frames(path: Path) -> Iterator[pd.DataFrame]:
    """The CSV as strings in chunks of rows, header names stripped (icml_face_data's ' Usage')."""
    try:
        with contextlib.ExitStack() as stack:
            source: Path | object = path
            if is_gzip(path):  # by content, so a gzip file named .csv reads too
                source = stack.enter_context(fast_gzip.open(path, "rb"))
            # na_filter=False: every field stays a string (missing ones ""), and the read is faster.
            # compression=None: gzip was found by content above, not by the name (pandas would
            # refuse a plain CSV named .csv.gz).
            reader = pd.read_csv(
                source, dtype=str, na_filter=False, chunksize=CHUNK_ROWS, compression=None
            )
            yield from checked_frames(path, reader)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV file ({first})") from None


def read_ahead(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Read the next chunk in a thread while this one is parsed, to shorten a cold load.

    Inflating and pandas' tokenizer release the GIL, so they overlap numpy's pixel parse
    (what it saves: docs/speed.md).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fer-csv") as pool:
        pending = pool.submit(next, frames, None)
        while (frame := pending.result()) is not None:
            pending = pool.submit(next, frames, None)
            yield frame


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == GZIP_MAGIC


def checked_frames(path: Path, reader: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Each chunk with header names stripped (icml_face_data's ' Usage'), pixels required."""
    for frame in reader:
        frame.columns = frame.columns.str.strip()
        if "pixels" not in frame.columns:
            found = ", ".join(repr(c) for c in frame.columns)
            raise DataError(
                f"{path}: no 'pixels' column (found {found}); a FER2013 CSV has "
                "the columns emotion, pixels and optionally Usage"
            )
        yield frame


def parse_pixels(column: pd.Series, problems: Problems, offset: int = 0) -> np.ndarray:
    """Space-separated pixel strings -> uint8 [N, 48, 48]; bad rows are zero, and noted."""
    n = len(column)
    strings = column.to_numpy()
    values = parse_ints(" ".join(strings), n * NUM_PIXELS)
    if values is not None and values.dtype == np.uint8:  # the fast parse checked every value
        return values.reshape(n, IMAGE_SIZE, IMAGE_SIZE)
    images = np.zeros((n, NUM_PIXELS), dtype=np.uint8)
    if values is not None and values.size == n * NUM_PIXELS:
        rows = np.arange(n)
        block = values.reshape(n, NUM_PIXELS)
    else:  # slow path, only on bad input: row by row
        parsed = {i: parse_row(text, offset + i, problems) for i, text in enumerate(strings)}
        rows = np.array([i for i, v in parsed.items() if v is not None], dtype=np.int64)
        if not len(rows):
            return images.reshape(n, IMAGE_SIZE, IMAGE_SIZE)
        block = np.stack([parsed[i] for i in rows])
    out_of_range = (block < 0) | (block > 255)
    if out_of_range.any():
        for i, col in zip(*np.nonzero(out_of_range), strict=True):
            problems.setdefault(
                offset + int(rows[i]), f"pixel {col + 1} is {block[i, col]}, outside 0..255"
            )
        block = block.clip(0, 255)
    images[rows] = block
    return images.reshape(n, IMAGE_SIZE, IMAGE_SIZE)


def parse_ints(text: str, expected: int) -> np.ndarray | None:
    """All integers in a space-separated string, or None if a token is not one.

    Well-formed pixel text (``expected`` values 0..255, one space apart) takes a fast uint16
    parse; anything else (signs, leading zeros, other spacing, wrong count) the exact int64
    one, so the caller can name the bad rows.
    """
    values = fromstring(text, np.uint16)
    if values is not None and values.size == expected and is_canonical_pixels(text, values):
        return values.astype(np.uint8)
    return fromstring(text, np.int64)


def fromstring(text: str, dtype: type) -> np.ndarray | None:
    try:
        with warnings.catch_warnings():
            # Older numpy warns and stops at a token that is not a number; newer raises.
            warnings.simplefilter("error", DeprecationWarning)
            return np.fromstring(text, dtype=dtype, sep=" ")
    except (ValueError, DeprecationWarning):
        return None


def is_canonical_pixels(text: str, values: np.ndarray) -> bool:
    """True if ``text`` is exactly ``values`` written in 0..255 one separator apart.

    Unsigned parsing wraps silently past 65535, so the values alone cannot prove the text held
    no such token; its length can: every token is at least as long as the number it wrapped to,
    so the lengths agree only if each token is the plain decimal of its value.
    """
    if values.size == 0 or (values > 255).any():
        return False
    digits = values.size + np.count_nonzero(values >= 10) + np.count_nonzero(values >= 100)
    return int(digits) + values.size - 1 == len(text)


def parse_row(text: str, row: int, problems: Problems) -> np.ndarray | None:
    tokens = text.split()
    for position, token in enumerate(tokens, start=1):
        if not token.lstrip("+-").isdigit():
            problems[row] = f"pixel {position} is {token[:20]!r}, not an integer"
            return None
    if len(tokens) != NUM_PIXELS:
        problems[row] = f"{len(tokens)} pixel values, expected {NUM_PIXELS} (48x48)"
        return None
    return np.array(tokens, dtype=np.int64)


def parse_labels(column: pd.Series, problems: Problems, offset: int = 0) -> np.ndarray:
    """Emotion strings -> int64 labels in 0..6 (-1 where bad, noted)."""
    values = pd.to_numeric(column.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    valid = np.isfinite(values) & (values == np.round(values))
    valid &= (values >= 0) & (values < NUM_CLASSES)
    for row in np.flatnonzero(~valid):
        problems.setdefault(
            offset + int(row),
            f"emotion {column.iloc[row]!r} is not a label in 0..{NUM_CLASSES - 1}",
        )
    return np.where(valid, values, -1).astype(np.int64)


def parse_usage(column: pd.Series, problems: Problems, offset: int = 0) -> np.ndarray:
    """Usage strings -> int8 indices into USAGES (-1 where unknown, noted)."""
    codes = column.str.strip().map({name: i for i, name in enumerate(USAGES)})
    missing = codes.isna().to_numpy()
    for row in np.flatnonzero(missing):
        problems.setdefault(
            offset + int(row), f"Usage {column.iloc[row]!r} is not one of {', '.join(USAGES)}"
        )
    return codes.fillna(-1).to_numpy(dtype=np.int8)
