"""Data files edited behind the cache's back, and caches tampered with: never served stale."""

from __future__ import annotations

import gzip
import logging
import os

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import load_faces
from fer_lightning.data.folder_source import read_face_folder
from fer_lightning.errors import DataError
from tests.conftest import csv_text, fer_rows


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
