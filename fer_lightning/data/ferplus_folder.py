"""Reader for FER+'s image folders: ROOT/FER2013{Train,Valid,Test}/ with PNGs and a label.csv.

FER+'s ``generate_training_data.py`` (github.com/microsoft/FERPlus) writes every face that
fer2013new.csv names as a 48x48 grey PNG (``fer0000000.png``: FER+ counts the faces and skips
the non-faces, so a name is not a row number) into the folder of its Usage: FER2013Train
(Training), FER2013Valid (PublicTest), FER2013Test (PrivateTest). Each folder's ``label.csv``
(no header) has one face a line: its name, its face box ``"(0, 0, 48, 48)"`` and the ten vote
counts (neutral ... contempt, unknown, NF). Both forms in circulation are read: the label.csv
files committed in FER+'s ``data/`` (with the box, which an earlier revision of its reader
took) and those its current script writes from fer2013new.csv (no box: name and ten counts;
the whole image is the face). Their votes can differ: in the shared sample, fer0028654.png's
committed votes are not fer2013new.csv's. The faces come with their votes, so
``data.labels=ferplus`` needs no vote file; they carry no FER2013 label.

Each bad line is one ``DataError`` naming the label.csv and its row (``data.on_bad_rows=skip``
drops it, and the log counts them): a name with no image beside it, a box that is not four
integers inside the image, votes that are not ten non-negative integers, an image that cannot
be decoded, is not 48x48 or cannot be made grey, or is above the pixel limit
(``FER_MAX_PIXELS``, checked before decoding, like any file that cannot be read), a name given
again with other votes or box. A box smaller than the image is cropped and scaled to 48x48, as
FER+'s reader crops it; colour images are made grey and counted.

A line repeated exactly is loaded once, with a warning, not refused: fer2013new.csv gives a few
faces that FER2013 holds twice one name, and FER+'s script then writes the same line twice, so
refusing would refuse FER+'s own folders; loading it twice would weigh that face double.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fer_lightning.data.cache import file_stamp
from fer_lightning.data.faces import FaceSet
from fer_lightning.data.ferplus_file import MAX_VOTE, VOTE_COLUMNS
from fer_lightning.data.folder_source import decode_all
from fer_lightning.data.labels import IMAGE_SIZE, USAGES
from fer_lightning.errors import DataError
from fer_lightning.pixel_limit import TooManyPixels, open_image

log = logging.getLogger(__name__)

FERPLUS_DIRS = {
    "FER2013Train": "Training",
    "FER2013Valid": "PublicTest",
    "FER2013Test": "PrivateTest",
}
LABEL_FILE = "label.csv"
FIELDS = (1 + len(VOTE_COLUMNS), 2 + len(VOTE_COLUMNS))  # name, [face box,] ten vote counts
GREY_MODES = ("L", "1", "I;16", "I")
FULL_BOX = (0, 0, IMAGE_SIZE, IMAGE_SIZE)
_BOX = re.compile(r"\(\s*(\d{1,4})\s*,\s*(\d{1,4})\s*,\s*(\d{1,4})\s*,\s*(\d{1,4})\s*\)")
_COUNT = re.compile(r"[0-9]{1,9}")

Box = tuple[int, int, int, int]
Decoded = tuple[np.ndarray | None, bool, str]  # (48x48 uint8 or None, had colour, error)


@dataclass(frozen=True)
class FerPlusListing:
    """The faces the label.csv files name, with their boxes, votes and Usage."""

    files: list[Path]
    boxes: list[Box]
    votes: np.ndarray  # uint8 [N, 10]
    usage: np.ndarray  # int8 [N]
    rows: list[str]  # "<label.csv>: row <n>", for messages
    label_files: list[Path]


def parse_line(fields: list[str], folder: Path) -> tuple[Path, Box, list[int]] | str:
    """One label.csv line -> (image, face box, ten votes), or what is wrong with it."""
    if len(fields) not in FIELDS:
        return (
            f"{len(fields)} fields, expected {FIELDS[1]} (image name, face box, "
            f"{len(VOTE_COLUMNS)} vote counts: {', '.join(VOTE_COLUMNS)}) or {FIELDS[0]} (no box)"
        )
    name = fields[0].strip()
    if not name or name in (".", "..") or Path(name).name != name:
        return f"{name!r} is not an image file name"
    file = folder / name
    if not file.is_file():
        return f"names {name}, which is not in {folder.name}/"
    if len(fields) == FIELDS[0] and _BOX.fullmatch(fields[1].strip()):
        return f"a face box and {FIELDS[0] - 2} vote counts, expected {len(VOTE_COLUMNS)}"
    x, y, w, h = FULL_BOX
    if len(fields) == FIELDS[1]:
        box = _BOX.fullmatch(fields[1].strip())
        if box is None:
            return f"face box {fields[1][:30]!r} is not '(x, y, width, height)'"
        x, y, w, h = (int(v) for v in box.groups())
        if not (w and h and x + w <= IMAGE_SIZE and y + h <= IMAGE_SIZE):
            return f"face box {fields[1].strip()} does not lie inside the 48x48 image"
    votes = []
    for column, text in zip(VOTE_COLUMNS, fields[-len(VOTE_COLUMNS) :], strict=True):
        text = text.strip()
        if not _COUNT.fullmatch(text):
            return f"{column} vote count {text[:20]!r} is not a non-negative integer"
        if int(text) > MAX_VOTE:
            return f"{column} vote count {text} is too large (at most {MAX_VOTE})"
        votes.append(int(text))
    return file, (x, y, w, h), votes


def list_ferplus_folder(root: Path, on_bad_rows: str = "error") -> FerPlusListing:
    """Every face of ROOT's label.csv files, checked line by line (images not decoded yet)."""
    if not root.is_dir():
        what = "is a file, expected a folder" if root.exists() else "no such folder"
        raise DataError(f"{root}: {what} with FER2013Train/, FER2013Valid/ and FER2013Test/")
    folders = [(root / name, usage) for name, usage in FERPLUS_DIRS.items()]
    folders = [(folder, usage) for folder, usage in folders if folder.is_dir()]
    if not folders:
        kaggle = (root / "train").is_dir() or (root / "test").is_dir()
        raise DataError(
            f"{root}: has no FER2013Train/, FER2013Valid/ or FER2013Test/ folder (FER+'s "
            "layout, written by its generate_training_data.py)"
            + ("; train/ and test/ are FER2013's layout: use data=fer2013_folder" if kaggle else "")
        )
    files, boxes, votes, usage, rows, bad, repeats = [], [], [], [], [], [], []
    label_files = []
    for folder, folder_usage in folders:
        label_csv = folder / LABEL_FILE
        if not label_csv.is_file():
            raise DataError(
                f"{label_csv}: no such file; FER+'s label.csv for {folder.name}/ (in "
                "github.com/microsoft/FERPlus, data/) belongs beside its images"
            )
        label_files.append(label_csv)
        named: dict[str, tuple[int, tuple]] = {}  # name -> (row, (box, votes))
        try:
            with label_csv.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                for fields in reader:
                    if not "".join(fields).strip():
                        continue  # a blank line
                    where = f"{label_csv}: row {reader.line_num}"
                    parsed = parse_line(fields, folder)
                    if not isinstance(parsed, str) and parsed[0].name in named:
                        first, content = named[parsed[0].name]
                        if content == parsed[1:]:
                            repeats.append(
                                f"{label_csv}: {parsed[0].name}, rows {first} and {reader.line_num}"
                            )
                            continue
                        parsed = (
                            f"names {parsed[0].name} again, with other votes or face box than "
                            f"row {first}: keep the line with its right votes"
                        )
                    if isinstance(parsed, str):
                        if on_bad_rows == "error":
                            raise DataError(
                                f"{where}: {parsed}; data.on_bad_rows=skip drops such rows"
                            )
                        bad.append(f"{where}: {parsed}")
                        continue
                    named[parsed[0].name] = (reader.line_num, parsed[1:])
                    files.append(parsed[0])
                    boxes.append(parsed[1])
                    votes.append(parsed[2])
                    usage.append(USAGES.index(folder_usage))
                    rows.append(where)
        except (UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{label_csv}: not a readable CSV file ({error})") from None
        unnamed = sum(1 for p in folder.glob("*.png") if p.name not in named)
        if unnamed:
            log.warning("%s: left out %d PNG(s) its label.csv does not name", folder, unnamed)
    if repeats:
        log.warning(
            "%s: %d label.csv line(s) repeat an earlier line exactly; each face is loaded once "
            "(first: %s)",
            root,
            len(repeats),
            repeats[0],
        )
    if bad:
        log.warning("%s: skipped %d bad label.csv row(s) (first: %s)", root, len(bad), bad[0])
    if not files:
        raise DataError(f"{root}: its label.csv files name no faces")
    return FerPlusListing(
        files,
        boxes,
        np.array(votes, dtype=np.uint8).reshape(len(files), len(VOTE_COLUMNS)),
        np.array(usage, dtype=np.int8),
        rows,
        label_files,
    )


def decode_boxed(item: tuple[Path, Box]) -> Decoded:
    """A 48x48 image, made grey, cropped to its face box and scaled back if the box is smaller."""
    file, (x, y, w, h) = item
    try:
        with open_image(file) as image:
            if image.size != (IMAGE_SIZE, IMAGE_SIZE):
                return None, False, f"{file.name} is {image.width}x{image.height}, expected 48x48"
            coloured = image.mode not in GREY_MODES
            grey = image.convert("L")
            if (x, y, w, h) != FULL_BOX:
                grey = grey.crop((x, y, x + w, y + h))
                grey = grey.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
            return np.asarray(grey, dtype=np.uint8), coloured, ""
    except TooManyPixels as error:
        return None, False, f"{file.name}: {str(error).removeprefix(f'{file}: ')}"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        text = str(error).splitlines()[0] if str(error) else "unreadable"
        return None, False, f"{file.name} cannot be decoded as a grey image ({text})"


def decode_boxed_chunk(items: list[tuple[Path, Box]]) -> list[Decoded]:
    return [decode_boxed(item) for item in items]


def read_ferplus_folder(
    root: str | Path,
    on_bad_rows: str = "error",
    workers: int | None = None,
    listing: FerPlusListing | None = None,
) -> FaceSet:
    """Decode the faces of FER+'s folders into the in-memory form, with their votes."""
    root = Path(root)
    listing = listing or list_ferplus_folder(root, on_bad_rows)
    items = list(zip(listing.files, listing.boxes, strict=True))
    decoded = decode_all(items, workers or os.cpu_count() or 1, decode_boxed_chunk)
    images = np.zeros((len(decoded), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    keep = np.ones(len(decoded), dtype=bool)
    bad, n_coloured = [], 0
    for i, (image, coloured, error) in enumerate(decoded):
        if image is None:
            if on_bad_rows == "error":
                raise DataError(
                    f"{listing.rows[i]}: {error}; data.on_bad_rows=skip drops such rows"
                )
            keep[i] = False
            bad.append(f"{listing.rows[i]}: {error}")
            continue
        images[i] = image
        n_coloured += coloured
    if n_coloured:
        log.warning("%s: converted %d colour image(s) to grayscale", root, n_coloured)
    if bad:
        log.warning("%s: skipped %d image(s) (first: %s)", root, len(bad), bad[0])
        if not keep.any():
            raise DataError(f"{root}: none of its images could be decoded")
    return FaceSet(
        images=images[keep],
        labels=np.full(int(keep.sum()), -1, dtype=np.int64),  # FER+ votes only, no FER2013 label
        usage=listing.usage[keep],
        source=str(root),
        votes=listing.votes[keep],
    )


def ferplus_folder_stamp(listing: FerPlusListing) -> dict[str, object]:
    """A cache stamp: the images' count, total size and newest time, each label.csv's SHA-256."""
    stats = [f.stat() for f in listing.files]
    return {
        "files": len(stats),
        "size": sum(s.st_size for s in stats),
        "mtime_ns": max(s.st_mtime_ns for s in stats),
        "labels": {str(f): file_stamp(f)["sha256"] for f in listing.label_files},
    }
