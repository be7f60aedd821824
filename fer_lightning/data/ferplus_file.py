"""The FER+ vote file (fer2013new.csv): read row by row, checked against the FER2013 CSV.

One ``DataError`` line for each kind of bad input (file, 1-based row); nothing is skipped, so
the two files always line up by row number.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lightning.data.csv_source import check_file, is_gzip, where
from fer_lightning.data.labels import FERPLUS_EMOTIONS, USAGES
from fer_lightning.errors import DataError

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
    check_file(path)
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
    if problems:
        row = min(problems)
        raise DataError(f"{where(path, row)}: {problems[row]}")
    return FerPlusVotes(usage=usage, votes=votes, source=str(path))


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


def check_aligned(votes: FerPlusVotes, usage: np.ndarray, fer_source: str) -> None:
    """Fail unless the FER+ rows line up with the FER2013 CSV's (``usage``: its int8 codes).

    FER+'s README and ``generate_training_data.py`` pair the two files by row number only, so
    the row count and every row's Usage must match; the message names the first row that
    differs.
    """
    usage = np.asarray(usage)
    if len(votes) != len(usage):
        raise DataError(
            f"{votes.source} has {len(votes)} rows but {fer_source} has {len(usage)}: {ALIGN_HINT}"
        )
    differ = np.flatnonzero(votes.usage != usage)
    if differ.size:
        row = int(differ[0])
        raise DataError(
            f"{where(Path(votes.source), row)} has Usage {_usage_name(votes.usage[row])} but "
            f"row {row + 1} of {fer_source} has Usage {_usage_name(int(usage[row]))} "
            f"({differ.size} rows differ): {ALIGN_HINT}"
        )
