"""The parse-once cache: hit, stale, corrupt, atomic writes."""

import logging
import os

import numpy as np
import pytest

from fer_lightning.data import cache as cache_module
from fer_lightning.data import load_faces
from tests.helpers.fer_csv import csv_text, fer_rows


@pytest.fixture
def source(write_csv):
    images, labels, usage = fer_rows(40, seed=5)
    return write_csv(csv_text(images, labels, usage)), images


def only_cache_file(cache_dir):
    (file,) = [p for p in cache_dir.iterdir() if p.suffix == ".npz"]
    return file


def test_second_load_comes_from_the_cache(tmp_path, source, monkeypatch):
    path, images = source
    first = load_faces("csv", path, cache_dir=tmp_path / "cache")
    file = only_cache_file(tmp_path / "cache")

    def no_parse(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr("fer_lightning.data.sources.read_fer_csv", no_parse)
    second = load_faces("csv", path, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(second.images, images)
    np.testing.assert_array_equal(second.labels, first.labels)
    np.testing.assert_array_equal(second.usage, first.usage)
    assert second.source == first.source and only_cache_file(tmp_path / "cache") == file


def test_changed_source_rebuilds(tmp_path, write_csv, source, caplog):
    path, _ = source
    load_faces("csv", path, cache_dir=tmp_path / "cache")
    images, labels, usage = fer_rows(41, seed=6)
    write_csv(csv_text(images, labels, usage))  # same path, new content, new size and mtime
    with caplog.at_level(logging.INFO):
        faces = load_faces("csv", path, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(faces.images, images)
    assert "stale" in caplog.text


def test_new_parser_version_rebuilds(tmp_path, source, monkeypatch, caplog):
    path, images = source
    load_faces("csv", path, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(cache_module, "PARSER_VERSION", cache_module.PARSER_VERSION + 1)
    with caplog.at_level(logging.INFO):
        faces = load_faces("csv", path, cache_dir=tmp_path / "cache")
    assert "stale" in caplog.text
    np.testing.assert_array_equal(faces.images, images)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_cache_is_rebuilt_not_trusted(tmp_path, source, damage, caplog):
    path, images = source
    load_faces("csv", path, cache_dir=tmp_path / "cache")
    file = only_cache_file(tmp_path / "cache")
    data = file.read_bytes()
    file.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b""}[damage]
    )
    with caplog.at_level(logging.WARNING):
        faces = load_faces("csv", path, cache_dir=tmp_path / "cache")
    assert "unreadable" in caplog.text
    np.testing.assert_array_equal(faces.images, images)
    # ... and the rebuilt cache is whole again.
    np.testing.assert_array_equal(
        load_faces("csv", path, cache_dir=tmp_path / "cache").images, images
    )


def test_failed_write_leaves_no_partial_file(tmp_path, source, monkeypatch):
    path, _ = source

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module.np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        load_faces("csv", path, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_options_are_part_of_the_key(tmp_path, write_csv):
    images, labels, usage = fer_rows(10, seed=7)
    lines = csv_text(images, labels, usage).splitlines()
    lines[3] = "9" + lines[3][1:]  # a bad label
    path = write_csv("\n".join(lines) + "\n")
    assert len(load_faces("csv", path, on_bad_rows="skip", cache_dir=tmp_path / "c")) == 9
    with pytest.raises(Exception, match="row 3"):
        load_faces("csv", path, on_bad_rows="error", cache_dir=tmp_path / "c")
