"""FER+'s ``Image name`` column as a check that the vote rows have not moved.

FER+ pairs fer2013new.csv with fer2013.csv by row number only, so a row dropped and another
doubled, or rows put in another order, keep the row count and every row's Usage and shift the
votes onto other faces. The names catch it: ``fer0000000.png`` ... count the faces in row
order. A row FER+ judged not to be a face has no name, and the count may skip one name there
(in the official file it sometimes does, sometimes not); a face FER2013 holds twice can carry
the name of its twin elsewhere in the file. So from one counted face to the next the name goes
up by at least one and at most the number of rows between them.

What names cannot show: a shift among rows without a name only, and a nameless row dropped
where the count skipped no name while the doubled row lands away from its twin (a doubled row
next to its twin, the usual edit, is found at the repeat).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

NAME = re.compile(r"fer(\d{1,9})\.png")
NO_NAME = -1


def name_numbers(column: pd.Series, problems: dict[int, str]) -> np.ndarray:
    """``Image name`` strings -> int64 face numbers (``NO_NAME`` where empty); bad ones noted."""
    text = column.str.strip()
    found = text.str.fullmatch(NAME.pattern)
    numbers = text.str.extract(NAME.pattern, expand=False)
    out = np.full(len(column), NO_NAME, dtype=np.int64)
    ok = found.to_numpy(dtype=bool)
    out[ok] = numbers[ok].astype(np.int64).to_numpy()
    for row in np.flatnonzero(~ok & (text != "").to_numpy()):
        problems.setdefault(
            int(row),
            f"Image name {column.iloc[row][:30]!r} is not FER+'s fer0000000.png form "
            "(empty for a row that is not a face)",
        )
    return out


@dataclass(frozen=True)
class NameBreak:
    """Where the names stop counting the faces: 0-based ``row``, after the face at ``previous``."""

    row: int
    previous: int
    name: int
    previous_name: int

    def describe(self) -> str:
        if self.name == self.previous_name:
            how = f"repeats the name of row {self.previous + 1}"
        elif self.name < self.previous_name:
            how = f"comes after fer{self.previous_name:07d}.png at row {self.previous + 1}"
        else:
            step, rows = self.name - self.previous_name, self.row - self.previous
            how = (
                f"is {step} names on from fer{self.previous_name:07d}.png at row "
                f"{self.previous + 1}, only {rows} row(s) before it"
            )
        return f"Image name fer{self.name:07d}.png {how}"


def first_break(numbers: np.ndarray, usage: np.ndarray) -> NameBreak | None:
    """The first counted face whose name does not follow the last one, or None.

    Rules (each true of the official file): a name goes up by at least one from face to face
    (a repeat of the last name is a doubled row) and by at most the rows between them (rows
    without a name may skip one name each); a Usage may start at any higher name, since a file
    may leave a Usage out. A name out of step that also names a face far from it (not the
    named row before or after) is a face FER2013 holds twice, which FER+ gave its twin's name:
    it is passed over, as a row without a name. A doubled row repeats its neighbour's name.
    """
    named = np.flatnonzero(numbers != NO_NAME)
    if not named.size:
        return None
    places: dict[int, list[int]] = {}
    for place, name in enumerate(numbers[named].tolist()):
        places.setdefault(name, []).append(place)
    last = int(named[0])
    for place, row in enumerate(named.tolist()):
        if place == 0:
            continue
        name, previous_name = int(numbers[row]), int(numbers[last])
        step = name - previous_name
        new_usage = usage[row] != usage[last]
        if step >= 1 and (step <= row - last or new_usage):
            last = row
            continue
        twins = [other for other in places[name] if other != place]
        if twins and all(abs(other - place) > 1 for other in twins):
            continue  # a twin's name: this row uses up no name of its own
        return NameBreak(row, last, name, previous_name)
    return None
