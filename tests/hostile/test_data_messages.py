"""Data messages that blamed the wrong thing: each names the real problem and its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_lightning.data import FERDataModule
from fer_lightning.data.ferplus import majority_labels
from fer_lightning.data.ferplus_file import VOTE_COLUMNS
from fer_lightning.data.labels import USAGES
from fer_lightning.errors import DataError
from tests.helpers.fer_csv import csv_text, fer_rows
from tests.helpers.ferplus import make_ferplus

N = 40


def pair(tmp_path: Path, votes: np.ndarray, fer_text: str | None = None) -> tuple[Path, Path]:
    """fer2013.csv (30 Training, 10 PublicTest rows) and a fer2013new.csv with ``votes``."""
    images, labels, _ = fer_rows(N, seed=7)
    usage = np.array([0] * 30 + [1] * 10, dtype=np.int8)
    fer = tmp_path / "fer2013.csv"
    fer.write_text(fer_text or csv_text(images, labels, usage))
    table = pd.DataFrame(votes.astype(int), columns=list(VOTE_COLUMNS))
    table.insert(0, "Image name", [f"fer{i:07d}.png" for i in range(N)])
    table.insert(0, "Usage", [USAGES[u] for u in usage])
    table.to_csv(tmp_path / "fer2013new.csv", index=False)
    return fer, tmp_path / "fer2013new.csv"


def ferplus_module(fer: Path, new: Path | str, **options) -> FERDataModule:
    settings = dict(val_usage=None, test_usage="PublicTest", cache_dir=None, batch_size=4)
    return FERDataModule(
        path=str(fer), labels="ferplus", ferplus_path=str(new), **{**settings, **options}
    )


def refused(module: FERDataModule, stage: str = "fit") -> str:
    with pytest.raises(DataError) as info:
        module.setup(stage)
    message = str(info.value)
    assert "\n" not in message
    return message


def clear_votes(n: int = N) -> np.ndarray:
    votes = np.zeros((n, len(VOTE_COLUMNS)), dtype=np.uint8)
    votes[np.arange(n), np.arange(n) % 8] = 10
    return votes


@pytest.mark.parametrize("column", [None, "unknown", "NF"], ids=["all zero", "unknown", "NF"])
def test_votes_that_leave_no_face_name_the_votes_not_the_split(tmp_path, column):
    votes = np.zeros((N, len(VOTE_COLUMNS)), dtype=np.uint8)
    if column:
        votes[:, VOTE_COLUMNS.index(column)] = 10
    message = refused(ferplus_module(*pair(tmp_path, votes)))
    assert "data.split=random" not in message and "no Training rows" not in message
    assert "FER+ votes leave no train faces: all 27" in message  # 3 of 30 carved for val
    assert "fer2013new.csv" in message


def test_votes_that_leave_no_test_face_name_the_votes(tmp_path):
    votes = clear_votes()
    votes[30:] = 0
    votes[30:, VOTE_COLUMNS.index("unknown")] = 10
    module = ferplus_module(*pair(tmp_path, votes))
    module.setup("fit")
    message = refused(module, "test")
    assert "FER+ votes" in message and "all 10" in message and "unknown majority" in message


def test_skipped_bad_rows_keep_each_face_with_its_own_votes(tmp_path):
    """on_bad_rows=skip drops CSV row 4; the votes of every later face stay with that face."""
    images, labels, _ = fer_rows(N, seed=7)
    usage = np.array([0] * 30 + [1] * 10, dtype=np.int8)
    lines = csv_text(images, labels, usage).splitlines()
    lines[4] = lines[4].replace(" ", " x", 1)  # data row 4: a pixel that is not a number
    fer, new = pair(tmp_path, clear_votes(), "\n".join(lines) + "\n")
    module = ferplus_module(fer, new, on_bad_rows="skip")
    module.setup("fit")
    kept = np.delete(np.arange(N), 3)
    expected, _ = majority_labels(clear_votes()[kept])
    np.testing.assert_array_equal(module.faces.labels, expected)
    np.testing.assert_array_equal(module.faces.images, np.delete(images, 3, axis=0))


def test_skipped_rows_and_a_short_vote_file_are_told_apart(tmp_path):
    images, labels, _ = fer_rows(N, seed=7)
    usage = np.array([0] * 30 + [1] * 10, dtype=np.int8)
    lines = csv_text(images, labels, usage).splitlines()
    lines[4] = lines[4].replace(" ", " x", 1)
    fer, new = pair(tmp_path, clear_votes(), "\n".join(lines) + "\n")
    new.write_text("\n".join(new.read_text().splitlines()[:-2]) + "\n")  # two votes short
    message = refused(ferplus_module(fer, new, on_bad_rows="skip"))
    assert f"{new} has 38 rows but {fer} has 40 (1 skipped as bad" in message


def test_a_folder_as_the_vote_file_names_the_option(tmp_path):
    fer, new = pair(tmp_path, clear_votes())
    empty = tmp_path / "votes"
    empty.mkdir()
    message = refused(ferplus_module(fer, empty))
    assert "fer2013_folder" not in message
    assert f"data.ferplus_path={empty} is a folder" in message and "fer2013new.csv" in message
    message = refused(ferplus_module(fer, tmp_path))  # the folder that holds fer2013new.csv
    assert f"data.ferplus_path={new}" in message
    (empty / "FER2013Train").mkdir()
    assert f"data=ferplus_folder data.path={empty}" in refused(ferplus_module(fer, empty))


@pytest.mark.parametrize(
    ("columns", "usage"),
    [
        (("pixels", "Usage"), "Training"),
        (("pixels", "Usage"), "PrivateTest"),
        (("pixels", "Usage"), "all"),
        (("pixels",), None),
    ],
    ids=["Training only", "PrivateTest only", "every Usage", "pixels only"],
)
@pytest.mark.parametrize("stage", ["fit", "test"])
def test_a_csv_without_an_emotion_column_says_so_first(write_csv, columns, usage, stage):
    images, labels, codes = fer_rows(30, seed=8)
    if usage != "all":
        codes[:] = USAGES.index(usage) if usage else 0
    path = write_csv(csv_text(images, labels, codes, columns=columns))
    message = refused(FERDataModule(path=str(path), cache_dir=None), stage)
    assert "no emotion column" in message and "emotion, pixels, Usage" in message
    assert "rows" not in message and "data.split" not in message


def test_ferplus_folders_whose_votes_leave_no_face_name_their_label_files(tmp_path):
    make_ferplus(tmp_path, sizes=(6, 2, 2))
    for label in tmp_path.glob("*/label.csv"):
        lines = label.read_text().splitlines()
        unknown = ",".join(["0"] * 8 + ["10", "0"])
        label.write_text("\n".join(line.rsplit(",", 10)[0] + "," + unknown for line in lines))
    module = FERDataModule(path=str(tmp_path), source="ferplus_folder", labels="ferplus")
    message = refused(module)
    assert "FER+ votes leave no train faces" in message and "unknown majority" in message
    assert "label.csv" in message and "data.split" not in message
