"""The image-folder layouts in circulation and their Usage: Emotion-detection's numbered files,
Kaggle-style prefixes, and split=usage giving what the CSV gives wherever the form knows it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.data import FERDataModule, load_faces
from fer_lightning.data import folder_layouts as layouts
from fer_lightning.data.folder_source import list_folder, read_face_folder
from fer_lightning.data.labels import EMOTIONS, USAGES
from fer_lightning.errors import DataError
from tests.helpers.configs import compose_train
from tests.helpers.fer_csv import csv_text
from tests.helpers.paths import SHARED_CSV

ED_NAMES = (
    "angry",
    "disgusted",
    "fearful",
    "happy",
    "sad",
    "surprised",
    "neutral",
)  # EMOTIONS order
PUBLIC, PRIVATE = USAGES.index("PublicTest"), USAGES.index("PrivateTest")


def emotion_detection_tree(root: Path, test_counts, train_per_class: int = 2, write=None):
    """Emotion-detection's layout: train/ and test/<its class names>/im<i>.png, numbered from 0
    per class. ``write(path, label, i)`` makes each file (default: an empty file)."""
    write = write or (lambda path, label, i: path.touch())
    for split, counts in (("train", [train_per_class] * 7), ("test", test_counts)):
        for label, (name, count) in enumerate(zip(ED_NAMES, counts, strict=True)):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                write(root / split / name / f"im{i}.png", label, i)


def test_emotion_detection_test_folder_with_the_official_counts_is_split_by_number(tmp_path):
    official = [
        a + b for a, b in zip(layouts.PUBLIC_TEST_COUNTS, layouts.PRIVATE_TEST_COUNTS, strict=True)
    ]
    assert sum(official) == 7178 and official[0] == 958  # 3,589 + 3,589
    emotion_detection_tree(tmp_path, official)
    listing = list_folder(tmp_path)  # names and counts only: nothing is decoded
    assert np.bincount(listing.usage).tolist() == [14, 3589, 3589]
    for label, n_public in enumerate(layouts.PUBLIC_TEST_COUNTS):
        mine = [
            (int(f.stem[2:]), u)
            for f, u, y in zip(listing.files, listing.usage, listing.labels, strict=True)
            if y == label and f.parent.parent.name == "test"
        ]
        assert sorted(n for n, u in mine if u == PUBLIC) == list(range(n_public))  # im0 ...
        assert all(u == PRIVATE for n, u in mine if n >= n_public)
    assert listing.labels[[f.parent.name == "disgusted" for f in listing.files]].tolist() == [
        EMOTIONS.index("disgust")
    ] * (2 + official[1])


@pytest.fixture
def small_official(monkeypatch):
    """Official counts small enough to write real images for: 2 PublicTest + 1 PrivateTest."""
    monkeypatch.setattr(layouts, "PUBLIC_TEST_COUNTS", (2,) * 7)
    monkeypatch.setattr(layouts, "PRIVATE_TEST_COUNTS", (1,) * 7)


def face(label: int, i: int) -> np.ndarray:
    return np.full((48, 48), 10 * label + i, dtype=np.uint8)


def write_face(path: Path, label: int, i: int) -> None:
    Image.fromarray(face(label, i)).save(path)


def test_emotion_detection_faces_and_their_usage(tmp_path, small_official):
    emotion_detection_tree(tmp_path, [3] * 7, write=write_face)
    faces = read_face_folder(tmp_path)
    public = faces.images[faces.usage == PUBLIC][:, 0, 0]
    private = faces.images[faces.usage == PRIVATE][:, 0, 0]
    assert sorted(public.tolist()) == sorted(10 * y + i for y in range(7) for i in (0, 1))
    assert sorted(private.tolist()) == [10 * y + 2 for y in range(7)]
    assert faces.class_counts() == {e: 5 for e in EMOTIONS}  # disgusted is disgust, ...


def test_emotion_detection_splits_by_number_not_by_name_order(tmp_path, monkeypatch):
    monkeypatch.setattr(layouts, "PUBLIC_TEST_COUNTS", (10,) * 7)
    monkeypatch.setattr(layouts, "PRIVATE_TEST_COUNTS", (1,) * 7)
    emotion_detection_tree(tmp_path, [11] * 7)
    listing = list_folder(tmp_path)
    private = {f.name for f, u in zip(listing.files, listing.usage, strict=True) if u == PRIVATE}
    assert private == {"im10.png"}  # the 11th image, though "im10" sorts before "im2" by name


def test_emotion_detection_with_other_counts_is_one_test_split_with_a_warning(tmp_path, caplog):
    emotion_detection_tree(tmp_path, [3] * 7)
    with caplog.at_level(logging.WARNING):
        listing = list_folder(tmp_path)
    in_test = np.array([f.parent.parent.name == "test" for f in listing.files])
    assert (listing.usage[in_test] == PRIVATE).all() and (listing.usage[~in_test] == 0).all()
    assert "not FER2013's PublicTest + PrivateTest" in caplog.text
    assert "all of it is one test split (PrivateTest)" in caplog.text


def test_emotion_detection_numbering_gaps_are_not_guessed(tmp_path, small_official, caplog):
    emotion_detection_tree(tmp_path, [3] * 7)
    (tmp_path / "test" / "fearful" / "im2.png").rename(tmp_path / "test" / "fearful" / "im7.png")
    with caplog.at_level(logging.WARNING):
        listing = list_folder(tmp_path)
    assert "fear: its images are not numbered im0 ... im2" in caplog.text
    assert (np.bincount(listing.usage) == [14, 0, 21]).all()


def test_prefixes_decide_in_any_layout(tmp_path, small_official):
    emotion_detection_tree(tmp_path, [3] * 7)
    (tmp_path / "test" / "happy" / "im0.png").rename(
        tmp_path / "test" / "happy" / "PublicTest_9.png"
    )
    listing = list_folder(tmp_path)
    assert np.bincount(listing.usage).tolist() == [14, 1, 20]


def test_one_emotion_in_two_class_folders_is_refused(tmp_path):
    emotion_detection_tree(tmp_path, [1] * 7)
    (tmp_path / "train" / "disgust").mkdir()
    with pytest.raises(DataError, match=r"train: disgust/ and disgusted/ are both class folders"):
        list_folder(tmp_path)


def kaggle_tree(root: Path, usages=USAGES, per_class: int = 2):
    """The Kaggle-style layout: the Usage in each file name, test/ holding both test Usages;
    returns the same faces as (images, labels, usage) in CSV form."""
    images, labels, usage = [], [], []
    for code, name in enumerate(USAGES):
        if name not in usages:
            continue
        split = "train" if name == "Training" else "test"
        for label, emotion in enumerate(EMOTIONS):
            (root / split / emotion).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = np.full((48, 48), 30 * code + 4 * label + i, dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / emotion / f"{name}_{label}{i}.png")
                images.append(pixels)
                labels.append(label)
                usage.append(code)
    return np.stack(images), np.array(labels), np.array(usage, dtype=np.int8)


def split_faces(module: FERDataModule) -> dict[str, list[int]]:
    """Each split's faces, by their (unique) first pixel."""
    faces = module.load()
    return {name: sorted(faces.images[i, 0, 0].tolist()) for name, i in module.indices.items()}


def test_kaggle_folder_splits_like_the_csv(tmp_path):
    images, labels, usage = kaggle_tree(tmp_path / "tree")
    (tmp_path / "fer2013.csv").write_text(csv_text(images, labels, usage))
    folder = FERDataModule(path=str(tmp_path / "tree"), source="folder", val_usage="auto")
    csv_module = FERDataModule(path=str(tmp_path / "fer2013.csv"), source="csv")
    assert split_faces(folder) == split_faces(csv_module)
    assert [len(folder.indices[n]) for n in ("train", "val", "test")] == [14, 14, 14]


def test_fer2013_folder_config_uses_the_public_test_images(tmp_path):
    data = compose_train(["data=fer2013_folder"], tmp_path).data
    assert (data.source, data.split, data.val_usage, data.test_usage) == (
        "folder",
        "usage",
        "auto",
        "PrivateTest",
    )


def test_without_private_test_the_empty_test_split_says_what_to_do(tmp_path):
    kaggle_tree(tmp_path, usages=("Training", "PublicTest"))
    module = FERDataModule(path=str(tmp_path), source="folder", val_usage="auto")
    module.setup("fit")  # train = Training, val = PublicTest
    with pytest.raises(DataError) as error:
        module.setup("test")
    message = str(error.value)
    assert "has no PrivateTest rows, so the test split is empty" in message
    assert "data.test_usage=PublicTest" in message and "fer2013_dev" not in message
    # Following it: PublicTest is the test split and validation is carved from Training.
    dev = FERDataModule(
        path=str(tmp_path), source="folder", val_usage="auto", test_usage="PublicTest"
    )
    dev.setup()
    assert [len(dev.indices[n]) for n in ("train", "val", "test")] == [13, 1, 14]
    assert set(dev.load().usage[dev.indices["val"]]) == {0}


def test_unprefixed_folders_carve_validation_from_training(tmp_path):
    for split in ("train", "test"):
        for emotion in EMOTIONS:
            (tmp_path / split / emotion).mkdir(parents=True)
            for i in range(10):
                Image.fromarray(np.zeros((48, 48), np.uint8)).save(
                    tmp_path / split / emotion / f"{i}.png"
                )
    module = FERDataModule(path=str(tmp_path), source="folder", val_usage="auto")
    module.setup()
    assert [len(module.indices[n]) for n in ("train", "val", "test")] == [63, 7, 70]


def test_shared_folder_sample_under_data_fer2013_folder(tmp_path):
    sample = SHARED_CSV.parent / "folder_sample"
    if not sample.exists():
        pytest.skip(f"the shared folder sample is absent ({sample})")
    kwargs = dict(path=str(sample), source="folder", val_usage="auto", cache_dir=None)
    module = FERDataModule(**kwargs)
    module.load()
    assert [len(module.indices[n]) for n in ("train", "val", "test")] == [140, 35, 0]
    with pytest.raises(DataError, match=r"no PrivateTest rows.*data.test_usage=PublicTest"):
        module.setup("test")
    dev = FERDataModule(**kwargs, test_usage="PublicTest")
    dev.load()
    assert [len(dev.indices[n]) for n in ("train", "val", "test")] == [126, 14, 35]


def test_an_unknown_val_usage_names_auto(tmp_path):
    kaggle_tree(tmp_path, per_class=1)
    with pytest.raises(DataError, match=r"data.val_usage='Public' is unknown: .*auto or null"):
        FERDataModule(path=str(tmp_path), source="folder", val_usage="Public").load()
    assert len(load_faces("folder", tmp_path)) == 21
