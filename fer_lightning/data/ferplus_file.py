"""The FER+ vote file (fer2013new.csv): read row by row, checked against the FER2013 CSV.

One ``DataError`` line for each kind of bad input (file, 1-based row); nothing is skipped, so
the two files always line up by row number. Its ``Image name`` column shows rows that moved
within a Usage (``ferplus_names``).
"""

from __future__ import annotations

import gzip
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lightning.data.csv_source import is_gzip, where
from fer_lightning.data.ferplus_names import NameBreak, first_break, name_numbers
from fer_lightning.data.labels import FERPLUS_EMOTIONS, USAGES
from fer_lightning.errors import DataError

log = logging.getLogger(__name__)

VOTE_COLUMNS: tuple[str, ...] = (*FERPLUS_EMOTIONS, "unknown", "NF")
"""The ten vote columns of fer2013new.csv: the eight emotions, then unknown and NF."""
UNKNOWN = VOTE_COLUMNS.index("unknown")  # column 8
NOT_A_FACE = VOTE_COLUMNS.index("NF")  # column 9

MAX_VOTE = 255  # the counts are stored as uint8; the official file has at most 10
ALIGN_HINT = (
    "the FER+ file must be the official fer2013new.csv, which matches the FER2013 CSV "
    "row for row (same order, same Usage in every row)"
)
_TOO_MANY = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


@dataclass(frozen=True)
class FerPlusVotes:
    """The ten vote counts of every face of a FER+ file, in the file's row order."""

    usage: np.ndarray  # int8 [N]: indices into USAGES
    votes: np.ndarray  # uint8 [N, 10]: counts in VOTE_COLUMNS order
    source: str  # the file, for messages
    names: np.ndarray | None = None  # int64 [N]: the face number of each Image name, or -1

    def __post_init__(self) -> None:
        n = len(self.usage)
        if self.votes.dtype != np.uint8 or self.votes.shape != (n, len(VOTE_COLUMNS)):
            raise ValueError(
                f"votes must be uint8 [N, {len(VOTE_COLUMNS)}] with one row per usage, got "
                f"{self.votes.dtype} {self.votes.shape} for {n} usages"
            )
        if self.usage.dtype != np.int8:
            raise ValueError(f"usage must be int8, got {self.usage.dtype}")

    def __len__(self) -> int:
        return len(self.usage)


def read_ferplus_votes(path: str | Path) -> FerPlusVotes:
    """Read fer2013new.csv (or a .csv.gz of it): its Usage and ten vote columns.

    Every problem is one ``DataError`` line: a missing file, missing columns, the first row
    whose votes are not ten non-negative integers or whose Usage is unknown. No row is ever
    skipped: the file lines up with the FER2013 CSV by row number.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(
            f"no FER+ vote file at {path}: download fer2013new.csv from "
            "github.com/microsoft/FERPlus and pass data.ferplus_path=/path/to/fer2013new.csv"
        )
    _check_file(path)
    frame = _read_frame(path)
    missing = [c for c in ("Usage", *VOTE_COLUMNS) if c not in frame.columns]
    if missing:
        found = ", ".join(repr(c) for c in frame.columns)
        raise DataError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} (found {found}); "
            f"fer2013new.csv has the columns Usage, Image name, {', '.join(VOTE_COLUMNS)}"
        )
    columns = list(frame.columns)
    doubled = [c for c in ("Usage", *VOTE_COLUMNS) if columns.count(c) > 1]
    if doubled:
        raise DataError(f"{path}: the header names {', '.join(map(repr, doubled))} twice")
    # Blank lines are rows (so row numbers stay line numbers) but trailing ones are not data.
    empty = (frame == "").all(axis=1).to_numpy()
    n = len(frame) - int(np.argmin(empty[::-1])) if not empty.all() else 0
    frame = frame.iloc[:n]
    if n == 0:
        raise DataError(f"{path}: has a header but no rows")
    votes, problems = _parse_votes(frame)
    usage = _parse_usage(frame["Usage"], problems)
    names = None
    if "Image name" in frame.columns:
        names = name_numbers(frame["Image name"], problems)
    else:
        log.warning(
            "%s: no 'Image name' column, so rows dropped, doubled or reordered within a Usage "
            "cannot be found; the official fer2013new.csv has one",
            path,
        )
    if problems:
        row = min(problems)
        raise DataError(f"{where(path, row)}: {problems[row]}")
    return FerPlusVotes(usage=usage, votes=votes, source=str(path), names=names)


def _check_file(path: Path) -> None:
    """A readable, non-empty file; a folder is named as the wrong thing for this option."""
    if path.is_dir():
        inside = path / "fer2013new.csv"
        folders = any((path / name).is_dir() for name in ("FER2013Train", "FER2013Valid"))
        fix = (
            f"data.ferplus_path={inside}"
            if inside.is_file()
            else f"FER+'s image folders bring their votes: data=ferplus_folder data.path={path}"
            if folders
            else "give FER+'s fer2013new.csv (github.com/microsoft/FERPlus)"
        )
        raise DataError(f"data.ferplus_path={path} is a folder, expected FER+'s vote file: {fix}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")


def _read_frame(path: Path) -> pd.DataFrame:
    """The CSV as strings (missing fields ""), header names stripped."""
    try:
        # header=None: the header line is row 0, so pandas sizes the rows by it, and a row
        # with a field too many fails with its line number (read with header=0, a first data
        # row with one more field would silently become the index).
        table = pd.read_csv(
            _text(path),
            header=None,
            index_col=False,
            dtype=str,
            na_filter=False,  # every field a string, missing ones ""
            skip_blank_lines=False,  # a blank line is a (bad) row: row numbers stay right
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        found = _TOO_MANY.search(str(exc))
        if found:
            expected, line, saw = (int(g) for g in found.groups())
            raise DataError(
                f"{path}: row {line - 1} (line {line}): {saw} fields, expected {expected} as "
                f"in the header (Usage, Image name and {len(VOTE_COLUMNS)} vote counts)"
            ) from None
        raise DataError(f"{path}: not a readable CSV file ({_first_line(exc)})") from None
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({_first_line(exc)})") from None
    frame = table.iloc[1:].reset_index(drop=True)
    frame.columns = table.iloc[0].str.strip().tolist()
    return frame


def _text(path: Path) -> io.StringIO:
    """The whole file as text (about 1.5 MB; a BOM is dropped), gzip found by content."""
    if is_gzip(path):
        with gzip.open(path, "rt", encoding="utf-8-sig") as f:
            return io.StringIO(f.read())
    return io.StringIO(path.read_text(encoding="utf-8-sig"))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _parse_votes(frame: pd.DataFrame) -> tuple[np.ndarray, dict[int, str]]:
    """The ten vote columns -> uint8 [N, 10], and 0-based row -> what is wrong with it."""
    text = frame[list(VOTE_COLUMNS)].apply(lambda column: column.str.strip())
    digits = text.apply(lambda column: column.str.fullmatch(r"[0-9]+")).to_numpy(dtype=bool)
    raw = text.to_numpy(dtype=str)
    values = np.zeros(raw.shape, dtype=np.int64)
    # Nine digits fit int64 with room to spare; longer ones are too large anyway.
    short = digits & (np.char.str_len(raw) <= 9)
    values[short] = raw[short].astype(np.int64)
    good = short & (values <= MAX_VOTE)
    blank = raw == ""  # a short row's missing fields, or an empty one
    wrong_count = blank.any(axis=1)
    problems: dict[int, str] = {}
    for row in np.flatnonzero(wrong_count | ~good.all(axis=1)):
        row = int(row)
        if wrong_count[row]:
            count = int((~blank[row]).sum())
            problems[row] = (
                f"{count} vote values, expected {len(VOTE_COLUMNS)} ({', '.join(VOTE_COLUMNS)})"
            )
            continue
        col = int(np.argmin(good[row]))
        what = "not a non-negative integer"
        if digits[row, col]:
            what = f"too large (at most {MAX_VOTE})"
        problems[row] = f"{VOTE_COLUMNS[col]} vote count {raw[row, col][:20]!r} is {what}"
    return np.where(good, values, 0).astype(np.uint8), problems


def _parse_usage(column: pd.Series, problems: dict[int, str]) -> np.ndarray:
    """Usage strings -> int8 indices into USAGES; unknown ones noted (csv_source's wording)."""
    codes = column.str.strip().map({name: i for i, name in enumerate(USAGES)})
    for row in np.flatnonzero(codes.isna().to_numpy()):
        problems.setdefault(
            int(row), f"Usage {column.iloc[row]!r} is not one of {', '.join(USAGES)}"
        )
    return codes.fillna(-1).to_numpy(dtype=np.int8)


def _usage_name(code: int) -> str:
    return USAGES[code] if 0 <= code < len(USAGES) else "(none)"


def check_aligned(
    votes: FerPlusVotes,
    usage: np.ndarray,
    fer_source: str,
    skipped_rows: np.ndarray | None = None,
) -> None:
    """Fail unless the FER+ rows line up with the FER2013 CSV's (``usage``: its int8 codes).

    FER+'s README and ``generate_training_data.py`` pair the two files by row number only, so
    the row count and every row's Usage must match, and the image names must count the faces
    (rows moved within a Usage); the message names the first row that differs.
    ``skipped_rows``: the CSV's rows left out as bad, which still count.
    """
    usage = np.asarray(usage)
    skipped = np.empty(0, np.int64) if skipped_rows is None else np.asarray(skipped_rows)
    total = len(usage) + len(skipped)
    moved = None if votes.names is None else first_break(votes.names, votes.usage)
    if len(votes) != total:
        bad = f" ({len(skipped)} skipped as bad by data.on_bad_rows=skip)" if len(skipped) else ""
        first = f" ({_moved(votes, moved)})" if moved else ""
        raise DataError(
            f"{votes.source} has {len(votes)} rows but {fer_source} has {total}{bad}{first}: "
            f"{ALIGN_HINT}"
        )
    rows = np.delete(np.arange(total), skipped)
    differ = rows[votes.usage[rows] != usage]
    if differ.size:
        row = int(differ[0])
        raise DataError(
            f"{where(Path(votes.source), row)} has Usage {_usage_name(votes.usage[row])} but "
            f"row {row + 1} of {fer_source} has Usage "
            f"{_usage_name(int(usage[np.searchsorted(rows, row)]))} "
            f"({differ.size} rows differ): {ALIGN_HINT}"
        )
    if moved:
        raise DataError(
            f"{_moved(votes, moved)}, so rows were dropped, doubled or reordered at or above "
            "it and the votes no longer fall on their faces: use the official fer2013new.csv "
            "unedited (it matches the FER2013 CSV row for row)"
        )


def _moved(votes: FerPlusVotes, moved: NameBreak) -> str:
    return f"{where(Path(votes.source), moved.row)}: {moved.describe()}"
