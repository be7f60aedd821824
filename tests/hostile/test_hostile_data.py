"""Data files edited behind the cache's back, caches tampered with (never served), and
FER+ label.csv lines written twice."""

from __future__ import annotations

import gzip
import logging
import os

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import load_faces
from fer_lightning.data.cache import arrays_checksum
from fer_lightning.data.folder_source import read_face_folder
from fer_lightning.errors import DataError
from tests.helpers.fer_csv import csv_text, fer_rows
from tests.helpers.ferplus import make_ferplus


def test_a_csv_edited_in_place_with_size_and_mtime_kept_is_reparsed(write_csv, tmp_path, caplog):
    """Relabel every happy face as sad (3 -> 4: same size), then put the old mtime back."""
    images, labels, usage = fer_rows(60, seed=1)
    labels[:10] = 3
    path = write_csv(csv_text(images, labels, usage))
    cache = tmp_path / "cache"
    first = load_faces("csv", path, cache_dir=cache)
    assert (first.labels == 3).sum() >= 10
    stat = path.stat()
    relabelled = np.where(labels == 3, 4, labels)
    path.write_text(csv_text(images, relabelled, usage))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # `touch -r`
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    with caplog.at_level(logging.INFO):
        second = load_faces("csv", path, cache_dir=cache)
    assert "stale" in caplog.text
    np.testing.assert_array_equal(second.labels, relabelled)
    assert (second.labels == 3).sum() == 0


def test_a_touched_but_unchanged_csv_keeps_its_cache(write_csv, tmp_path, monkeypatch):
    images, labels, usage = fer_rows(20, seed=2)
    path = write_csv(csv_text(images, labels, usage))
    load_faces("csv", path, cache_dir=tmp_path / "cache")
    os.utime(path)  # a new mtime, the same bytes

    def no_parse(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr("fer_lightning.data.sources.read_fer_csv", no_parse)
    load_faces("csv", path, cache_dir=tmp_path / "cache")


def test_a_cache_with_impossible_values_is_rebuilt(write_csv, tmp_path, caplog):
    images, labels, usage = fer_rows(20, seed=3)
    path = write_csv(csv_text(images, labels, usage))
    cache = tmp_path / "cache"
    load_faces("csv", path, cache_dir=cache)
    (file,) = cache.glob("*.npz")
    with np.load(file) as npz:
        arrays = dict(npz)
    arrays["labels"] = np.full_like(arrays["labels"], 99)  # no emotion 99
    # The checksum rewritten to match: the values themselves are still checked.
    arrays["checksum"] = np.array(arrays_checksum(arrays, str(arrays["source"])))
    with file.open("wb") as f:
        np.savez(f, **arrays)
    with caplog.at_level(logging.WARNING):
        faces = load_faces("csv", path, cache_dir=cache)
    assert "impossible values (labels outside -1..6)" in caplog.text
    np.testing.assert_array_equal(faces.labels, labels)


def face_tree(root, per_class: int, nested: int = 0) -> int:
    """train/<class>/ PNGs, ``nested`` of each class's one level deeper; returns the count."""
    rng = np.random.default_rng(0)
    count = 0
    for emotion in ("happy", "sad"):
        for i in range(per_class):
            folder = root / "train" / emotion / ("extra" if i < nested else "")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(
                folder / f"Training_{emotion}{i}.png"
            )
            count += 1
    return count


def test_nested_class_subfolders_are_read(tmp_path):
    """300 faces, 30 of them in train/<class>/extra/: all 300 load."""
    total = face_tree(tmp_path, per_class=150, nested=15)
    assert total == 300
    faces = read_face_folder(tmp_path)
    assert len(faces) == 300
    assert faces.class_counts()["happy"] == faces.class_counts()["sad"] == 150


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_broken_link_among_the_images_is_one_line_or_skipped(tmp_path, kind, caplog):
    face_tree(tmp_path, per_class=4)
    link = tmp_path / "train" / "happy" / "Training_link.png"
    if kind == "dangling":
        link.symlink_to(tmp_path / "nowhere.png")
    else:
        other = tmp_path / "train" / "happy" / "Training_other.png"
        link.symlink_to(other)
        other.symlink_to(link)
    with pytest.raises(DataError, match=r"Training_\w+\.png: a broken link .*on_bad_rows=skip"):
        load_faces("folder", tmp_path)
    with caplog.at_level(logging.WARNING):
        faces = load_faces("folder", tmp_path, on_bad_rows="skip", cache_dir=tmp_path / "c")
    assert len(faces) == 8 and "broken link" in caplog.text


def test_gzip_is_found_by_content_both_ways(tmp_path):
    images, labels, usage = fer_rows(10, seed=4)
    text = csv_text(images, labels, usage)
    plain_named_gz = tmp_path / "plain.csv.gz"
    plain_named_gz.write_text(text)
    gz_named_csv = tmp_path / "packed.csv"
    gz_named_csv.write_bytes(gzip.compress(text.encode()))
    for path in (plain_named_gz, gz_named_csv):
        np.testing.assert_array_equal(load_faces("csv", path).images, images)


# Edits that keep every value possible: only the stored checksum can tell.
EDITS = {
    "labels all set to 3": lambda a: a.update(labels=np.full_like(a["labels"], 3)),
    "images inverted": lambda a: a.update(images=255 - a["images"]),
    "usage all Training": lambda a: a.update(usage=np.zeros_like(a["usage"])),
    "two faces swapped": lambda a: a.update(images=a["images"][[1, 0, *range(2, 20)]]),
    "checksum removed": lambda a: a.pop("checksum", None),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_cache_edited_with_possible_values_is_rebuilt(write_csv, tmp_path, caplog, edit):
    images, labels, usage = fer_rows(20, seed=3)
    path = write_csv(csv_text(images, labels, usage))
    cache = tmp_path / "cache"
    load_faces("csv", path, cache_dir=cache)
    (file,) = cache.glob("*.npz")
    with np.load(file) as npz:
        arrays = dict(npz)
    EDITS[edit](arrays)
    with file.open("wb") as f:
        np.savez(f, **arrays)
    with caplog.at_level(logging.WARNING):
        faces = load_faces("csv", path, cache_dir=cache)
    assert f"Cache {file}" in caplog.text and "rebuilding" in caplog.text
    np.testing.assert_array_equal(faces.labels, labels)
    np.testing.assert_array_equal(faces.images, images)
    np.testing.assert_array_equal(faces.usage, usage)
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        load_faces("csv", path, cache_dir=cache)  # the rebuilt cache is served again
    assert "rebuilding" not in caplog.text


def test_edited_votes_in_a_ferplus_folder_cache_are_not_served(tmp_path, caplog):
    _, votes, _ = make_ferplus(tmp_path / "plus")
    cache = tmp_path / "cache"
    load_faces("ferplus_folder", tmp_path / "plus", cache_dir=cache)
    (file,) = cache.glob("*.npz")
    with np.load(file) as npz:
        arrays = dict(npz)
    arrays["votes"] = np.roll(arrays["votes"], 1, axis=0)
    with file.open("wb") as f:
        np.savez(f, **arrays)
    with caplog.at_level(logging.WARNING):
        faces = load_faces("ferplus_folder", tmp_path / "plus", cache_dir=cache)
    assert "checksum" in caplog.text
    np.testing.assert_array_equal(faces.votes, votes)


def test_rows_skipped_as_bad_are_remembered_by_the_cache(write_csv, tmp_path):
    images, labels, usage = fer_rows(20, seed=6)
    lines = csv_text(images, labels, usage).splitlines()
    lines[3] = lines[3].replace(" ", " x", 1)  # data row 3
    path = write_csv("\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    first = load_faces("csv", path, on_bad_rows="skip", cache_dir=cache)
    again = load_faces("csv", path, on_bad_rows="skip", cache_dir=cache)
    for faces in (first, again):
        np.testing.assert_array_equal(faces.skipped_rows, [2])
        np.testing.assert_array_equal(faces.source_rows, np.delete(np.arange(20), 2))


def label_lines(root) -> list[str]:
    return (root / "FER2013Train" / "label.csv").read_text().splitlines()


def test_a_label_csv_line_written_twice_loads_its_face_once(tmp_path, caplog):
    """FER+'s own script writes a line twice where fer2013new.csv names a face twice."""
    _, votes, _ = make_ferplus(tmp_path, sizes=(6, 2, 2))
    lines = label_lines(tmp_path)
    (tmp_path / "FER2013Train" / "label.csv").write_text("\n".join([*lines, lines[2]]) + "\n")
    with caplog.at_level(logging.WARNING):
        faces = load_faces("ferplus_folder", tmp_path)
    assert len(faces) == 10
    np.testing.assert_array_equal(faces.votes, votes)
    assert "fer0000002.png" in caplog.text and "rows 3 and 7" in caplog.text


def test_a_face_named_twice_with_other_votes_is_refused_or_skipped(tmp_path, caplog):
    _, votes, _ = make_ferplus(tmp_path, sizes=(6, 2, 2))
    lines = label_lines(tmp_path)
    other = lines[2].rsplit(",", 10)[0] + ",10" + ",0" * 9
    (tmp_path / "FER2013Train" / "label.csv").write_text("\n".join([*lines, other]) + "\n")
    with pytest.raises(DataError) as info:
        load_faces("ferplus_folder", tmp_path)
    message = str(info.value)
    assert "label.csv: row 7" in message and "fer0000002.png" in message and "row 3" in message
    assert "data.on_bad_rows=skip" in message and "\n" not in message
    with caplog.at_level(logging.WARNING):
        faces = load_faces("ferplus_folder", tmp_path, on_bad_rows="skip")
    assert len(faces) == 10 and "skipped 1 bad label.csv row" in caplog.text
    np.testing.assert_array_equal(faces.votes, votes)
