"""FER+ votes shifted within one Usage (rows dropped, doubled or out of order): refused in one
line that names the first row whose `Image name` breaks FER+'s count, never trained on.

The made-up pair below has what the official files have: names that count the faces, rows
without a name (not a face) that skip a name or not, and a face that borrows the name of its
twin elsewhere in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_lightning.data import FERDataModule
from fer_lightning.data.ferplus_file import VOTE_COLUMNS, check_aligned, read_ferplus_votes
from fer_lightning.data.labels import USAGES
from fer_lightning.errors import DataError
from tests.helpers.fer_csv import csv_text, fer_rows
from tests.helpers.paths import SHARED_CSV

SHARED_FERPLUS = SHARED_CSV.parents[1] / "ferplus" / "fer2013new_dev.csv"
HEADER = "Usage,Image name," + ",".join(VOTE_COLUMNS)
N_TRAIN, N_PUBLIC = 30, 12
SKIPPING_NF = (6,)  # a row that is not a face and uses up a name (fer0000006 is never given)
PLAIN_NF = (9, 33)  # rows that are not faces and use up no name
BORROWED = 20  # a face with its twin's name (row 26's), as FER+ names a few faces


def names() -> list[str]:
    out, count = [], 0
    for row in range(N_TRAIN + N_PUBLIC):
        if row in SKIPPING_NF or row in PLAIN_NF:
            out.append("")
            count += row in SKIPPING_NF
            continue
        out.append("BORROWED" if row == BORROWED else f"fer{count:07d}.png")
        count += row != BORROWED
    return [out[26] if name == "BORROWED" else name for name in out]


def vote_lines() -> list[str]:
    """Data lines of fer2013new.csv: every face a clear, different majority from its neighbours."""
    lines = []
    for row, name in enumerate(names()):
        votes = [0] * len(VOTE_COLUMNS)
        votes[VOTE_COLUMNS.index("NF") if not name else row % 8] = 10
        usage = "Training" if row < N_TRAIN else "PublicTest"
        lines.append(f"{usage},{name}," + ",".join(map(str, votes)))
    return lines


def write_pair(tmp_path: Path, lines: list[str]) -> tuple[Path, Path]:
    n = N_TRAIN + N_PUBLIC
    images, labels, _ = fer_rows(n, seed=5)
    usage = np.array([0] * N_TRAIN + [1] * N_PUBLIC, dtype=np.int8)
    fer = tmp_path / "fer2013.csv"
    fer.write_text(csv_text(images, labels, usage))
    new = tmp_path / "fer2013new.csv"
    new.write_text("\n".join([HEADER, *lines]) + "\n")
    return fer, new


def load(fer: Path, new: Path) -> FERDataModule:
    module = FERDataModule(
        path=str(fer),
        ferplus_path=str(new),
        labels="ferplus",
        val_usage=None,
        test_usage="PublicTest",
        cache_dir=None,
    )
    module.load()
    return module


def test_the_intact_pair_loads(tmp_path):
    module = load(*write_pair(tmp_path, vote_lines()))
    assert len(module.faces) == N_TRAIN + N_PUBLIC


def drop_then_double(lines: list[str], drop: int, double: int) -> list[str]:
    """Data row ``drop`` (0-based) left out, ``double`` written twice: the count stays."""
    out = []
    for row, line in enumerate(lines):
        if row != drop:
            out.append(line)
        if row == double:
            out.append(line)
    return out


def reverse(lines: list[str], start: int, stop: int) -> list[str]:
    return lines[:start] + lines[start:stop][::-1] + lines[stop:]


# (edit, the first row (1-based) that must be named)
SHIFTS = {
    "a face dropped, a later one doubled": (lambda ls: drop_then_double(ls, 3, 14), 4),
    "a face doubled, a later one dropped": (lambda ls: drop_then_double(ls, 14, 3), 5),
    "dropped and doubled next to each other": (lambda ls: drop_then_double(ls, 11, 12), 12),
    "a non-face dropped, a face doubled": (lambda ls: drop_then_double(ls, 9, 17), 18),
    "two faces swapped": (lambda ls: reverse(ls, 12, 14), 13),
    "rows reversed": (lambda ls: reverse(ls, 2, 19), 3),
    "rows reversed from the top": (lambda ls: reverse(ls, 0, 5), 2),
    # A Usage may start at any name (a file may lack a Usage): the break shows one row later.
    "PublicTest reversed": (lambda ls: reverse(ls, N_TRAIN, N_TRAIN + N_PUBLIC), N_TRAIN + 2),
    "PublicTest's faces moved by one": (
        lambda ls: drop_then_double(ls, N_TRAIN + 1, N_TRAIN + 10),
        N_TRAIN + 2,
    ),
}


@pytest.mark.parametrize("shift", SHIFTS, ids=list(SHIFTS))
def test_votes_shifted_within_a_usage_are_refused_naming_the_first_row(tmp_path, shift):
    edit, row = SHIFTS[shift]
    lines = edit(vote_lines())
    assert len(lines) == N_TRAIN + N_PUBLIC  # the row count and every Usage still match
    fer, new = write_pair(tmp_path, lines)
    with pytest.raises(DataError) as info:
        load(fer, new)
    message = str(info.value)
    assert "\n" not in message
    assert f"{new}: row {row} (line {row + 1})" in message
    assert "Image name" in message and "official fer2013new.csv unedited" in message


def test_a_name_that_is_not_fers_form_is_named(tmp_path):
    lines = vote_lines()
    lines[4] = lines[4].replace("fer0000004.png", "face4.png")
    fer, new = write_pair(tmp_path, lines)
    with pytest.raises(DataError, match=r"row 5 \(line 6\): Image name 'face4.png' is not"):
        load(fer, new)


def test_a_vote_file_without_image_names_loads_with_a_warning(tmp_path, caplog):
    lines = [",".join(line.split(",")[:1] + line.split(",")[2:]) for line in vote_lines()]
    fer, new = write_pair(tmp_path, lines)
    new.write_text(new.read_text().replace("Usage,Image name,", "Usage,", 1))
    load(fer, new)
    assert "no 'Image name' column" in caplog.text


@pytest.fixture(scope="module")
def shared_lines() -> list[str]:
    if not SHARED_FERPLUS.exists():
        pytest.skip(f"the shared FER+ copy is absent ({SHARED_FERPLUS})")
    return SHARED_FERPLUS.read_text().splitlines()


def check_file(path: Path) -> None:
    votes = read_ferplus_votes(path)
    check_aligned(votes, votes.usage, "fer2013.csv")


@pytest.mark.e2e
def test_the_shared_vote_file_lines_up_and_its_shifts_do_not(shared_lines, tmp_path):
    """The official rows (repeated names and all) pass; a shift in either Usage is found."""
    check_file(SHARED_FERPLUS)
    header, rows = shared_lines[0], shared_lines[1:]
    public = next(i for i, line in enumerate(rows) if line.startswith("PublicTest"))
    for drop, double in ((100, 2_000), (public + 300, public + 7)):
        path = tmp_path / "fer2013new.csv"
        path.write_text("\n".join([header, *drop_then_double(rows, drop, double)]) + "\n")
        with pytest.raises(DataError, match=r"Image name"):
            check_file(path)


def test_usage_codes_match_the_pairs_own(tmp_path):
    """The made-up pair keeps FER2013's Usage in every row: only the names can tell."""
    votes = read_ferplus_votes(write_pair(tmp_path, vote_lines())[1])
    assert [USAGES[u] for u in votes.usage[[0, N_TRAIN]]] == ["Training", "PublicTest"]
