"""Image-folder trees: labels from class folders, Usage from prefixes, conversion, bad files."""

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import load_faces
from fer_lightning.data.folder_source import read_face_folder
from fer_lightning.data.labels import EMOTIONS, USAGES
from fer_lightning.errors import DataError
from tests.helpers.paths import SHARED_DATA

SHARED_SAMPLE = SHARED_DATA / "fer2013" / "folder_sample"


def make_tree(root: Path, per_class: int = 2, prefixed: bool = True) -> dict[str, np.ndarray]:
    """A small tree of lossless PNG faces; returns {relative path: pixels}."""
    rng = np.random.default_rng(0)
    written = {}
    for split, usage in (("train", "Training"), ("test", "PublicTest")):
        for emotion in EMOTIONS:
            folder = root / split / emotion
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (48, 48), dtype=np.uint8)
                name = f"{usage}_{emotion}{i}.png" if prefixed else f"{emotion}{i}.png"
                Image.fromarray(pixels).save(folder / name)
                written[f"{split}/{emotion}/{name}"] = pixels
    return written


def test_reads_pixels_labels_and_usage_from_prefixes(tmp_path):
    written = make_tree(tmp_path)
    faces = read_face_folder(tmp_path)
    assert len(faces) == len(written) == 28
    files = sorted(written)  # the reader lists test/ and train/ in sorted order per split
    by_pixels = {faces.images[i].tobytes(): i for i in range(len(faces))}
    for rel in files:
        i = by_pixels[written[rel].tobytes()]
        _split, emotion, name = rel.split("/")
        assert faces.labels[i] == EMOTIONS.index(emotion)
        assert USAGES[faces.usage[i]] == name.split("_")[0]


def test_without_prefixes_train_is_training_and_test_is_private_test(tmp_path):
    make_tree(tmp_path, prefixed=False)
    faces = read_face_folder(tmp_path)
    assert sorted(set(USAGES[u] for u in faces.usage)) == ["PrivateTest", "Training"]
    assert (faces.usage == 0).sum() == 14


def test_colour_and_other_sizes_are_converted_and_counted(tmp_path, caplog):
    make_tree(tmp_path, per_class=1)
    big = np.zeros((96, 96, 3), dtype=np.uint8)
    big[..., 0] = 255  # pure red
    Image.fromarray(big).save(tmp_path / "train" / "happy" / "Training_big.jpg")
    with caplog.at_level(logging.WARNING):
        faces = read_face_folder(tmp_path)
    assert len(faces) == 15 and faces.images.shape[1:] == (48, 48)
    assert "converted 1 colour image(s)" in caplog.text and "resized 1 image(s)" in caplog.text
    red = faces.images[faces.images.std(axis=(1, 2)) == 0]
    assert len(red) == 1 and abs(int(red[0, 0, 0]) - 76) <= 2  # ITU-R 601 luma of pure red


def test_unknown_class_folder_is_named(tmp_path):
    make_tree(tmp_path, per_class=1)
    (tmp_path / "train" / "contempt").mkdir()
    with pytest.raises(DataError, match=r"train/contempt: unknown class folder"):
        read_face_folder(tmp_path)


def test_undecodable_image_is_named_or_skipped(tmp_path):
    make_tree(tmp_path, per_class=1)
    bad = tmp_path / "test" / "sad" / "PublicTest_broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"PublicTest_broken.png: cannot be decoded"):
        read_face_folder(tmp_path)
    assert len(read_face_folder(tmp_path, on_bad_rows="skip")) == 14


def test_not_a_folder_tree(tmp_path):
    with pytest.raises(DataError, match="no train/ or test/ folder"):
        read_face_folder(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        read_face_folder(tmp_path / "missing")


def test_folder_load_is_cached(tmp_path):
    make_tree(tmp_path / "tree")
    first = load_faces("folder", tmp_path / "tree", cache_dir=tmp_path / "cache")
    again = load_faces("folder", tmp_path / "tree", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(first.images, again.images)
    # Adding a file changes the stamp: the cache is rebuilt with it.
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(tmp_path / "tree/train/sad/Training_x.png")
    assert len(load_faces("folder", tmp_path / "tree", cache_dir=tmp_path / "cache")) == 29


def test_shared_folder_sample_matches_the_shared_csv_form():
    if not SHARED_SAMPLE.exists():
        pytest.skip(f"the shared folder sample is absent ({SHARED_SAMPLE})")
    faces = read_face_folder(SHARED_SAMPLE)
    assert len(faces) == 7 * 25
    assert faces.class_counts() == {e: 25 for e in EMOTIONS}
    assert (faces.usage == USAGES.index("Training")).sum() == 140
    assert (faces.usage == USAGES.index("PublicTest")).sum() == 35
    assert 40 < faces.images.reshape(len(faces), -1).std(axis=1).mean() < 70  # original pixels


def test_process_pool_decode_gives_the_same_faces(tmp_path, monkeypatch):
    make_tree(tmp_path)
    serial = read_face_folder(tmp_path, workers=1)
    monkeypatch.setattr("fer_lightning.data.folder_source.DECODE_CHUNK", 4)
    pooled = read_face_folder(tmp_path, workers=2)
    np.testing.assert_array_equal(pooled.images, serial.images)
    np.testing.assert_array_equal(pooled.labels, serial.labels)
