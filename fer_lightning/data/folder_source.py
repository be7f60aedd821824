"""Reader for FER2013 as image folders: ROOT/{train,test}/<class>/[...]/<name>.{jpg,png,...}.

Usage comes from the file-name prefix (``Training_``, ``PublicTest_``, ``PrivateTest_``) where
the download kept it (the popular JPEG copy's ``test/`` mixes both test Usages and the prefix is
their only record); otherwise train/ is Training and test/ is PrivateTest, the final test
split, except where Emotion-detection's layout can be split by its numbering (see
``folder_layouts``). Images are decoded by PIL in a pool of processes, so all cores work; other
sizes and colour images are converted to 48x48 grayscale and counted. An image above the pixel
limit (``FER_MAX_PIXELS``, read from its header before decoding) is a file that cannot be read,
like a corrupt one: one error line, or left out and counted with ``data.on_bad_rows=skip``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from fer_lightning.data.faces import FaceSet
from fer_lightning.data.folder_layouts import (
    class_label,
    is_emotion_detection,
    split_numbered_test,
)
from fer_lightning.data.labels import IMAGE_SIZE, USAGES
from fer_lightning.errors import DataError
from fer_lightning.pixel_limit import TooManyPixels, open_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
DECODE_CHUNK = 1024  # files per pool task: amortizes the hand-off, keeps every core busy
SPLIT_DIRS = {"train": "Training", "test": "PrivateTest"}


@dataclass(frozen=True)
class FolderListing:
    files: list[Path]
    labels: np.ndarray
    usage: np.ndarray
    broken: list[Path]  # links to nothing (or a loop), left out


def image_files(class_dir: Path) -> list[Path]:
    """Every image below a class folder, nested folders included, sorted.

    Nested folders count too: a reader that lists only the class folder's own files would drop
    the faces below it without a word. Linked folders are not followed: a link loop would never
    end.
    """
    found: list[Path] = []
    for folder, subfolders, names in os.walk(class_dir):
        subfolders.sort()
        found += [
            Path(folder) / n for n in sorted(names) if Path(n).suffix.lower() in IMAGE_SUFFIXES
        ]
    return found


def usage_of(file: Path, split_dir: str) -> int:
    for code, usage in enumerate(USAGES):
        if file.name.startswith(f"{usage}_"):
            return code
    return USAGES.index(SPLIT_DIRS[split_dir])


def list_folder(root: Path, on_bad_rows: str = "error") -> FolderListing:
    """Every image under ROOT/{train,test}/<class>/, sorted, with its label and Usage.

    A broken link or a link loop among the images is one error line, or (``skip``) left out.
    """
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(
            f"{root}: is a file, expected a folder with train/ and test/ "
            "(for a CSV use data=fer2013)"
        )
    split_dirs = [root / name for name in SPLIT_DIRS if (root / name).is_dir()]
    if not split_dirs:
        ferplus = (root / "FER2013Train").is_dir() or (root / "FER2013Valid").is_dir()
        raise DataError(
            f"{root}: has no train/ or test/ folder; expected "
            "ROOT/train/<class>/*.png and ROOT/test/<class>/*.png"
            + ("; FER2013Train/ is FER+'s layout: use data=ferplus_folder" if ferplus else "")
        )
    class_dirs = {d: sorted(p for p in d.iterdir() if p.is_dir()) for d in split_dirs}
    files, labels, usage, in_test, broken = [], [], [], [], []
    for split_dir in split_dirs:
        seen: dict[int, Path] = {}
        for class_dir in class_dirs[split_dir]:
            label = class_label(class_dir)
            if label in seen:
                raise DataError(
                    f"{split_dir}: {seen[label].name}/ and {class_dir.name}/ are both "
                    "class folders of one emotion; keep one"
                )
            seen[label] = class_dir
            for file in image_files(class_dir):
                if not file.exists():  # False for a dangling link and for a link loop
                    if on_bad_rows == "error":
                        raise DataError(
                            f"{file}: a broken link (or a link loop), not an image; "
                            "data.on_bad_rows=skip leaves such files out"
                        )
                    broken.append(file)
                    continue
                files.append(file)
                labels.append(label)
                usage.append(usage_of(file, split_dir.name))
                in_test.append(split_dir.name == "test")
    if not files:
        raise DataError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders")
    label_array, usage_array = np.array(labels, dtype=np.int64), np.array(usage, dtype=np.int8)
    if is_emotion_detection([d for dirs in class_dirs.values() for d in dirs]):
        usage_array = split_numbered_test(
            root / "test", files, label_array, usage_array, np.array(in_test, dtype=bool)
        )
    return FolderListing(files, label_array, usage_array, broken)


def decode_face(file: Path) -> tuple[np.ndarray | None, bool, bool, str]:
    """(48x48 uint8 image or None, was resized, had colour, why it cannot be read)."""
    try:
        with open_image(file) as image:
            coloured = image.mode not in ("L", "1", "I;16", "I")
            gray = image.convert("L")
            resized = gray.size != (IMAGE_SIZE, IMAGE_SIZE)
            if resized:
                gray = gray.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
            return np.asarray(gray, dtype=np.uint8), resized, coloured, ""
    except TooManyPixels as error:
        return None, False, False, str(error).removeprefix(f"{file}: ")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        text = str(error).splitlines()[0] if str(error) else "unreadable"
        return None, False, False, f"cannot be decoded as an image ({text})"


def decode_chunk(files: list[Path]) -> list[tuple[np.ndarray | None, bool, bool, str]]:
    return [decode_face(f) for f in files]


def decode_all(files: list[Any], workers: int, decode: Callable = decode_chunk) -> list[Any]:
    """Decode in worker processes (PIL holds the GIL for most of a small image's decode).

    ``decode`` turns a chunk of ``files`` into one result each (a top-level function).
    """
    chunks = [files[i : i + DECODE_CHUNK] for i in range(0, len(files), DECODE_CHUNK)]
    if workers <= 1 or len(chunks) <= 1:
        return decode(files)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return [face for chunk in pool.map(decode, chunks) for face in chunk]


def read_face_folder(
    root: str | Path,
    on_bad_rows: str = "error",
    workers: int | None = None,
    listing: FolderListing | None = None,
) -> FaceSet:
    """Decode every image of the folder tree (or of its ``listing``) into the in-memory form."""
    root = Path(root)
    listing = listing or list_folder(root, on_bad_rows)
    if listing.broken:
        log.warning(
            "%s: left out %d broken link(s) or link loop(s) (first: %s)",
            root,
            len(listing.broken),
            listing.broken[0],
        )
    workers = workers or os.cpu_count() or 1
    decoded = decode_all(listing.files, workers)
    images = np.zeros((len(decoded), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    bad, n_resized, n_coloured = [], 0, 0
    for i, (image, resized, coloured, error) in enumerate(decoded):
        if image is None:
            if on_bad_rows == "error":
                raise DataError(
                    f"{listing.files[i]}: {error}; data.on_bad_rows=skip drops such files"
                )
            bad.append((i, error))
            continue
        images[i] = image
        n_resized += resized
        n_coloured += coloured
    if n_resized or n_coloured:
        log.warning(
            "%s: converted %d colour image(s) to grayscale and resized %d image(s) to 48x48",
            root,
            n_coloured,
            n_resized,
        )
    keep = np.ones(len(decoded), dtype=bool)
    if bad:
        keep[[i for i, _ in bad]] = False
        first, why = bad[0]
        log.warning(
            "%s: skipped %d file(s) that could not be decoded (first: %s: %s)",
            root,
            len(bad),
            listing.files[first],
            why,
        )
        if not keep.any():
            raise DataError(f"{root}: none of its images could be decoded")
    return FaceSet(
        images=images[keep],
        labels=listing.labels[keep],
        usage=listing.usage[keep],
        source=str(root),
    )


def folder_stamp(
    root: Path, on_bad_rows: str = "error", listing: FolderListing | None = None
) -> dict[str, object]:
    """A cache stamp of the tree: file count, total size and the newest modification time."""
    listing = listing or list_folder(root, on_bad_rows)
    stats = [f.stat() for f in listing.files]
    return {
        "files": len(stats),
        "size": sum(s.st_size for s in stats),
        "mtime_ns": max(s.st_mtime_ns for s in stats),
        "dirs_mtime_ns": max(d.stat().st_mtime_ns for d in {f.parent for f in listing.files}),
    }
