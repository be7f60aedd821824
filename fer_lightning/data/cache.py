"""A parse-once cache of FaceSets as uncompressed .npz, keyed on the source and the parser.

Images, labels, Usage and, where the source brought them (FER+'s image folders), the FER+ votes;
the rows a reader skipped as bad, which FER+ votes joined by row number must skip too.

The key (source path, its content's SHA-256, parser version, reader options) is stored in the
file and compared on load, so a changed source or a new parser rebuilds it. A SHA-256 of the
arrays is stored beside them and checked on load: arrays edited in the file (labels all set to
one emotion, faces swapped) are rebuilt, never served. It guards against edits and damage, not
against someone who rewrites the checksum too. A cache that cannot be read is rebuilt, never
trusted; writes go to a temporary file renamed into place, so a killed run leaves the previous
cache or none, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.atomic import replaced_atomically
from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import NUM_CLASSES, USAGES

log = logging.getLogger(__name__)

PARSER_VERSION = 2
"""Bump when a reader's output for the same file changes: every cache is then rebuilt."""


def file_stamp(path: Path) -> dict[str, Any]:
    """What identifies a file's content: its size and the SHA-256 of its bytes.

    Size and modification time alone served a stale cache for a CSV edited in place with both
    kept (``touch -r``). Hashing reads the file once more, a small fraction of a parse (timings
    in docs/speed.md), and a file touched but not changed keeps its cache.
    """
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


ARRAYS = ("images", "labels", "usage", "votes", "skipped_rows")
"""The FaceSet arrays a cache holds (votes and skipped rows only where the source had them)."""


def arrays_checksum(arrays: dict[str, np.ndarray], source: str) -> str:
    """SHA-256 over each stored array's name, dtype, shape and bytes, and the source name."""
    digest = hashlib.sha256(source.encode())
    for name in ARRAYS:
        if name in arrays:
            array = np.ascontiguousarray(arrays[name])
            digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
            digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def cache_key(path: Path, stamp: dict[str, Any], options: dict[str, Any]) -> str:
    return json.dumps(
        {"path": str(path), "parser": PARSER_VERSION, **stamp, **options}, sort_keys=True
    )


def cache_file(cache_dir: Path, path: Path) -> Path:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    return cache_dir / f"{path.name}-{digest}.npz"


def read_cache(file: Path, key: str, with_votes: bool = False) -> FaceSet | None:
    """The cached FaceSet if ``file`` holds one for exactly ``key``; None otherwise.

    ``with_votes``: the source brings FER+ votes, so a cache without them is impossible.
    """
    if not file.exists():
        return None
    try:
        with np.load(file, allow_pickle=False) as npz:
            if str(npz["key"]) != key:
                log.info("Cache %s is stale (the source or the parser changed): rebuilding", file)
                return None
            arrays = {name: npz[name] for name in ARRAYS if name in npz.files}
            source, stored = str(npz["source"]), str(npz["checksum"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        log.warning("Cache %s is unreadable (%s): rebuilding", file, type(error).__name__)
        return None
    if arrays_checksum(arrays, source) != stored:
        log.warning("Cache %s does not match its checksum (edited or damaged): rebuilding", file)
        return None
    try:
        # FER+'s image folders bring their votes; FaceSet checks their dtype and shape.
        faces = FaceSet(source=source, **arrays)
    except (TypeError, ValueError) as error:
        log.warning("Cache %s is unreadable (%s): rebuilding", file, error)
        return None
    problem = impossible_values(faces, with_votes)
    if problem:
        log.warning("Cache %s holds impossible values (%s): rebuilding", file, problem)
        return None
    return faces


def impossible_values(faces: FaceSet, with_votes: bool = False) -> str | None:
    """What no reader writes (a tampered or damaged cache), or None."""
    if with_votes != (faces.votes is not None):
        return "FER+ votes missing" if with_votes else "FER+ votes where the source has none"
    if faces.labels.dtype != np.int64 or faces.usage.dtype != np.int8:
        return f"dtypes {faces.labels.dtype}/{faces.usage.dtype}, not int64/int8"
    if len(faces) and not (faces.labels.min() >= -1 and faces.labels.max() < NUM_CLASSES):
        return f"labels outside -1..{NUM_CLASSES - 1}"
    if len(faces) and not (faces.usage.min() >= -1 and faces.usage.max() < len(USAGES)):
        return f"usage codes outside -1..{len(USAGES) - 1}"
    return None


def write_cache(file: Path, key: str, faces: FaceSet) -> None:
    arrays = {name: getattr(faces, name) for name in ARRAYS}
    arrays = {name: array for name, array in arrays.items() if array is not None}
    checksum = arrays_checksum(arrays, faces.source)
    with replaced_atomically(file, "wb") as f:
        np.savez(
            f,
            key=np.array(key),
            source=np.array(faces.source),
            checksum=np.array(checksum),
            **arrays,
        )


def cached(
    path: Path,
    stamp: dict[str, Any],
    options: dict[str, Any],
    cache_dir: Path | None,
    load: Callable[[], FaceSet],
    with_votes: bool = False,
) -> FaceSet:
    """``load()`` through the cache in ``cache_dir`` (None: no cache).

    ``with_votes``: the source's faces carry FER+ votes (stored, and checked on reading).
    """
    if cache_dir is None:
        return load()
    key = cache_key(path, stamp, options)
    file = cache_file(Path(cache_dir).expanduser(), path)
    faces = read_cache(file, key, with_votes)
    if faces is None:
        faces = load()
        try:
            write_cache(file, key, faces)
        except OSError as error:  # a read-only cache folder must not stop training
            log.warning("Could not write the cache %s (%s)", file, error)
    return faces
