"""FER+'s image folders (data=ferplus_folder): faces with their votes, bad lines, the cache, and
training on FER+ labels exactly as with the CSV pair (fer2013.csv + fer2013new.csv)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from fer_lightning.data import FERDataModule, load_faces
from fer_lightning.data.cache import arrays_checksum
from fer_lightning.data.ferplus_file import VOTE_COLUMNS
from fer_lightning.data.ferplus_folder import read_ferplus_folder
from fer_lightning.data.labels import FERPLUS_EMOTIONS, USAGES
from fer_lightning.errors import DataError
from fer_lightning.training.fit import train
from tests.helpers.fer_csv import csv_text
from tests.helpers.ferplus import make_ferplus
from tests.helpers.paths import SHARED_CSV
from tests.helpers.runs import TINY, on_data

SHARED = SHARED_CSV.parents[1] / "ferplus"


@pytest.mark.parametrize("box", [True, False], ids=["committed label.csv", "script's, no box"])
def test_reads_faces_votes_and_usage_of_both_label_forms(tmp_path, box):
    images, votes, usage = make_ferplus(tmp_path, box=box)
    faces = read_ferplus_folder(tmp_path)
    np.testing.assert_array_equal(faces.images, images)
    np.testing.assert_array_equal(faces.votes, votes)
    np.testing.assert_array_equal(faces.usage, usage)
    assert (faces.labels == -1).all() and faces.votes.dtype == np.uint8


def test_a_face_box_smaller_than_the_image_is_cropped_and_scaled(tmp_path):
    make_ferplus(tmp_path, sizes=(1, 0, 0))
    face = np.zeros((48, 48), dtype=np.uint8)
    face[:24, :24] = 200  # the box's quarter is bright, the rest dark
    Image.fromarray(face).save(tmp_path / "FER2013Train" / "fer0000000.png")
    label = tmp_path / "FER2013Train" / "label.csv"
    label.write_text('fer0000000.png,"(0, 0, 24, 24)",10,0,0,0,0,0,0,0,0,0\n')
    assert (read_ferplus_folder(tmp_path).images[0] == 200).all()


BAD_LINES = {
    "missing image": ("fer9999999.png,{box},10,0,0,0,0,0,0,0,0,0", r"names fer9999999.png, which"),
    "not a number": ("{name},{box},10,0,x,0,0,0,0,0,0,0", r"surprise vote count 'x' is not"),
    "negative": ("{name},{box},10,0,0,-1,0,0,0,0,0,0", r"sadness vote count '-1' is not"),
    "nine votes": ("{name},{box},10,0,0,0,0,0,0,0,0", r"a face box and 9 vote counts"),
    "eight votes": ("{name},{box},10,0,0,0,0,0,0,0", r"10 fields, expected 12"),
    "too large": ("{name},{box},300,0,0,0,0,0,0,0,0,0", r"neutral vote count 300 is too large"),
    "bad box": ('{name},"(0, 0, 48)",10,0,0,0,0,0,0,0,0,0', r"face box .* is not"),
    "box outside": ('{name},"(10, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0', r"does not lie inside"),
    "a path": ("../FER2013Valid/{name},{box},10,0,0,0,0,0,0,0,0,0", r"is not an image file name"),
}


@pytest.mark.parametrize("kind", BAD_LINES)
def test_a_bad_label_line_is_one_error_naming_file_and_row_or_skipped(tmp_path, kind, caplog):
    make_ferplus(tmp_path, sizes=(5, 2, 0))
    line, expected = BAD_LINES[kind]
    label = tmp_path / "FER2013Train" / "label.csv"
    rows = label.read_text().splitlines()
    rows[2] = line.format(name="fer0000002.png", box='"(0, 0, 48, 48)"')
    label.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=rf"FER2013Train/label.csv: row 3: .*{expected}") as error:
        load_faces("ferplus_folder", tmp_path)
    assert "\n" not in str(error.value) and "on_bad_rows=skip" in str(error.value)
    with caplog.at_level(logging.WARNING):
        faces = load_faces("ferplus_folder", tmp_path, on_bad_rows="skip")
    assert len(faces) == 6 and "skipped 1 bad label.csv row(s)" in caplog.text


@pytest.mark.parametrize("kind", ["not 48x48", "not an image"])
def test_a_bad_image_is_one_error_naming_its_row_or_skipped(tmp_path, kind):
    make_ferplus(tmp_path, sizes=(5, 2, 0))
    bad = tmp_path / "FER2013Valid" / "fer0000006.png"
    if kind == "not 48x48":
        Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(bad)
    else:
        bad.write_bytes(b"not a png")
    expected = "is 64x64, expected 48x48" if kind == "not 48x48" else "cannot be decoded"
    with pytest.raises(
        DataError, match=rf"FER2013Valid/label.csv: row 2: fer0000006.png {expected}"
    ):
        read_ferplus_folder(tmp_path)
    assert len(read_ferplus_folder(tmp_path, on_bad_rows="skip")) == 6


def test_colour_images_are_made_grey_and_counted(tmp_path, caplog):
    make_ferplus(tmp_path, sizes=(2, 0, 0))
    Image.fromarray(np.full((48, 48, 3), 255, np.uint8)).save(
        tmp_path / "FER2013Train/fer0000001.png"
    )
    with caplog.at_level(logging.WARNING):
        faces = read_ferplus_folder(tmp_path)
    assert (faces.images[1] == 255).all() and "converted 1 colour image(s)" in caplog.text


def test_wrong_layouts_name_the_right_data_group(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"no FER2013Train/.*use data=fer2013_folder"):
        load_faces("ferplus_folder", tmp_path)
    make_ferplus(tmp_path / "plus", sizes=(1, 1, 0))
    with pytest.raises(DataError, match=r"FER\+'s layout: use data=ferplus_folder"):
        load_faces("folder", tmp_path / "plus")
    (tmp_path / "plus" / "FER2013Valid" / "label.csv").unlink()
    with pytest.raises(DataError, match=r"FER2013Valid/label.csv: no such file"):
        load_faces("ferplus_folder", tmp_path / "plus")


def test_the_cache_keeps_and_checks_the_votes(tmp_path, monkeypatch, caplog):
    images, votes, _ = make_ferplus(tmp_path / "plus")
    cache = tmp_path / "cache"
    load_faces("ferplus_folder", tmp_path / "plus", cache_dir=cache)

    def no_parse(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    with monkeypatch.context() as patch:
        patch.setattr("fer_lightning.data.sources.read_ferplus_folder", no_parse)
        again = load_faces("ferplus_folder", tmp_path / "plus", cache_dir=cache)
    np.testing.assert_array_equal(again.images, images)
    np.testing.assert_array_equal(again.votes, votes)
    # A label.csv edited in place, size and modification time kept: its hash rebuilds.
    label = tmp_path / "plus" / "FER2013Train" / "label.csv"
    stat = label.stat()
    label.write_bytes(label.read_bytes().replace(b",7,", b",6,", 1).replace(b",3,", b",4,", 1))
    os.utime(label, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert label.stat().st_size == stat.st_size
    edited = load_faces("ferplus_folder", tmp_path / "plus", cache_dir=cache)
    assert not np.array_equal(edited.votes, votes)
    # A cache whose votes were removed is impossible for this source: rebuilt, never served.
    (file,) = cache.glob("*.npz")
    with np.load(file) as npz:
        kept = {k: npz[k] for k in npz.files if k != "votes"}
    # The checksum rewritten to match: the missing votes are still found.
    kept["checksum"] = np.array(arrays_checksum(kept, str(kept["source"])))
    np.savez(file, **kept)
    with caplog.at_level(logging.WARNING):
        rebuilt = load_faces("ferplus_folder", tmp_path / "plus", cache_dir=cache)
    assert "FER+ votes missing" in caplog.text
    np.testing.assert_array_equal(rebuilt.votes, edited.votes)


def write_csv_pair(root: Path, images, votes, usage) -> tuple[Path, Path]:
    """The same faces as fer2013.csv (no FER2013 labels needed: zeros) and fer2013new.csv."""
    labels = np.zeros(len(images), dtype=np.int64)
    fer = root / "fer2013.csv"
    fer.write_text(csv_text(images, labels, usage))
    table = pd.DataFrame(votes.astype(int), columns=list(VOTE_COLUMNS))
    table.insert(0, "Image name", [f"fer{i:07d}.png" for i in range(len(images))])
    table.insert(0, "Usage", [USAGES[u] for u in usage])
    table.to_csv(root / "fer2013new.csv", index=False)
    return fer, root / "fer2013new.csv"


@pytest.mark.parametrize("scheme", ["majority", "crossentropy"])
def test_ferplus_labels_from_the_folders_equal_the_csv_pairs(tmp_path, scheme):
    images, votes, usage = make_ferplus(tmp_path / "plus")
    fer, new = write_csv_pair(tmp_path, images, votes, usage)
    common = dict(labels="ferplus", ferplus_scheme=scheme, cache_dir=None, split_seed=3)
    folder = FERDataModule(path=str(tmp_path / "plus"), source="ferplus_folder", **common)
    pair = FERDataModule(path=str(fer), source="csv", ferplus_path=str(new), **common)
    folder.setup()
    pair.setup()
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(folder.indices[name], pair.indices[name])
        a, b = folder.dataset(name), pair.dataset(name)
        torch.testing.assert_close(a.images, b.images)
        torch.testing.assert_close(a.labels, b.labels)
        if name == "train":
            torch.testing.assert_close(a.targets, b.targets)
    assert folder.class_names == FERPLUS_EMOTIONS and 0 < len(folder.indices["test"]) < 10


def test_fer2013_labels_are_refused_and_a_vote_file_is_not_read(tmp_path, caplog):
    make_ferplus(tmp_path / "plus")
    with pytest.raises(DataError, match=r"FER\+ votes, not FER2013 labels.*data.labels=ferplus"):
        FERDataModule(path=str(tmp_path / "plus"), source="ferplus_folder").load()
    module = FERDataModule(
        path=str(tmp_path / "plus"),
        source="ferplus_folder",
        labels="ferplus",
        ferplus_path=str(tmp_path / "nowhere.csv"),
    )
    with caplog.at_level(logging.WARNING):
        module.load()
    assert "nowhere.csv is not read: the votes came with the faces" in caplog.text


def shared_sample() -> Path:
    sample = SHARED / "folder_sample"
    if not sample.exists():
        pytest.skip(f"the shared FER+ folder sample is absent ({sample})")
    return sample


def test_shared_sample_votes_are_fer2013new_csvs_rows_by_name():
    faces = read_ferplus_folder(shared_sample())
    assert len(faces) == 100
    assert np.bincount(faces.usage).tolist() == [70, 30]  # FER2013Train, FER2013Valid
    new = pd.read_csv(SHARED / "fer2013new_dev.csv", dtype={"Image name": str})
    names = sorted(p.name for p in shared_sample().glob("FER2013*/*.png"))
    rows = new.set_index("Image name").loc[names]  # by name: a name is not a row number
    assert (rows["Usage"].map(USAGES.index).to_numpy() == faces.usage).all()
    differ = np.flatnonzero((rows[list(VOTE_COLUMNS)].to_numpy() != faces.votes).any(axis=1))
    # FER+'s committed label.csv and its fer2013new.csv disagree on this one face's votes.
    assert [names[i] for i in differ] == ["fer0028654.png"]
    if SHARED_CSV.exists():  # the pixels are FER2013's, at the row the name stands on
        fer = load_faces("csv", SHARED_CSV, cache_dir=os.environ.get("FER_CACHE_DIR"))
        row = new.index[new["Image name"].isin(names)].to_numpy()
        np.testing.assert_array_equal(faces.images, fer.images[row])


@pytest.mark.e2e
def test_shared_sample_trains_through_the_entry_point(train_cfg):
    sample = shared_sample()
    overrides = ["data=ferplus_folder", f"data.path={sample}", "data.test_usage=PublicTest"]
    metrics = train(train_cfg(on_data(TINY, *overrides)))
    assert 0.0 <= metrics["test/acc"] <= 1.0
