"""The FER2013 image-folder layouts in circulation: class-folder names, and what says the Usage.

- Kaggle-style (the popular JPEG download): class folders ``angry disgust fear happy sad
  surprise neutral``, files ``Training_<id>``, ``PublicTest_<id>``, ``PrivateTest_<id>``: the
  prefix is the Usage (``test/`` mixes both test Usages). Without prefixes, ``train/`` is
  Training and ``test/`` one test split (PrivateTest).
- Emotion-detection (the popular conversion script, ``dataset_prepare.py`` of
  github.com/atulapra/Emotion-detection): class folders ``angry disgusted fearful happy neutral
  sad surprised``, files ``im<i>.png`` numbered from 0 per class in CSV order; ``train/`` holds
  the first 28,709 rows (Training), ``test/`` the rest: PublicTest, then PrivateTest. When the
  per-class counts of ``test/`` are FER2013's PublicTest + PrivateTest counts, the first images
  of each class (by ``<i>``) are PublicTest and the rest PrivateTest; otherwise ``test/`` is one
  test split (PrivateTest), with a warning.

The layout is told by the class-folder names: ``disgusted``, ``fearful`` and ``surprised`` are
Emotion-detection's alone, and the other four names are the same in both.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from fer_lightning.data.labels import EMOTIONS, USAGES
from fer_lightning.errors import DataError

log = logging.getLogger(__name__)

# Emotion-detection's class-folder names that differ from FER2013's.
EMOTION_DETECTION_NAMES = {"disgusted": "disgust", "fearful": "fear", "surprised": "surprise"}
# FER2013's faces per class and Usage, in EMOTIONS order (angry ... neutral); PrivateTest is the
# full data set's counts (4953, 547, 5121, 8989, 6077, 4002, 6198) less Training and PublicTest.
PUBLIC_TEST_COUNTS = (467, 56, 496, 895, 653, 415, 607)  # 3,589
PRIVATE_TEST_COUNTS = (491, 55, 528, 879, 594, 416, 626)  # 3,589
NUMBERED = re.compile(r"im(\d+)\.\w+")
PUBLIC, PRIVATE = USAGES.index("PublicTest"), USAGES.index("PrivateTest")


def class_label(class_dir: Path) -> int:
    """FER2013's label of a class folder, by either layout's name (any case)."""
    name = class_dir.name.lower()
    name = EMOTION_DETECTION_NAMES.get(name, name)
    if name not in EMOTIONS:
        raise DataError(
            f"{class_dir}: unknown class folder; class folders are {' '.join(EMOTIONS)} "
            f"(or Emotion-detection's angry disgusted fearful happy neutral sad surprised)"
        )
    return EMOTIONS.index(name)


def is_emotion_detection(class_dirs: list[Path]) -> bool:
    """Whether the class folders are named as Emotion-detection's conversion script names them."""
    return any(d.name.lower() in EMOTION_DETECTION_NAMES for d in class_dirs)


def split_numbered_test(
    test_dir: Path, files: list[Path], labels: np.ndarray, usage: np.ndarray, in_test: np.ndarray
) -> np.ndarray:
    """Emotion-detection's ``test/``: PublicTest and PrivateTest by per-class number, if it can.

    ``usage`` holds PrivateTest for every unprefixed file of ``test/`` (``in_test``); returns the
    Usage with the first ``PUBLIC_TEST_COUNTS[c]`` images of each class c (by the number in
    ``im<i>``) set to PublicTest when test/ holds exactly FER2013's PublicTest + PrivateTest
    faces per class, numbered 0..n-1; else ``usage`` as it was, and a warning.
    """
    test = np.flatnonzero(in_test)
    if not len(test) or (usage[test] != PRIVATE).any():  # nothing there, or prefixes decide
        return usage
    counts = np.bincount(labels[test], minlength=len(EMOTIONS)).tolist()
    expected = [a + b for a, b in zip(PUBLIC_TEST_COUNTS, PRIVATE_TEST_COUNTS, strict=True)]
    numbers = [NUMBERED.fullmatch(files[i].name) for i in test]
    problem = None
    if counts != expected:
        have = ", ".join(f"{e} {n}" for e, n in zip(EMOTIONS, counts, strict=True))
        problem = f"holds {have} faces, not FER2013's PublicTest + PrivateTest ({expected})"
    elif not all(numbers):
        problem = "has files not named im<i> (the conversion script's names)"
    else:
        number = np.array([int(m[1]) for m in numbers])
        split = usage.copy()
        for label, n_public in enumerate(PUBLIC_TEST_COUNTS):
            mine = labels[test] == label
            if sorted(number[mine].tolist()) != list(range(mine.sum())):
                problem = (
                    f"{EMOTIONS[label]}: its images are not numbered im0 ... im{mine.sum() - 1}"
                )
                break
            ordered = test[mine][np.argsort(number[mine])]
            split[ordered[:n_public]] = PUBLIC
        if problem is None:
            log.info(
                "%s: Emotion-detection's test/ with FER2013's counts: the first images of each "
                "class are PublicTest (%d), the rest PrivateTest (%d)",
                test_dir,
                sum(PUBLIC_TEST_COUNTS),
                sum(PRIVATE_TEST_COUNTS),
            )
            return split
    log.warning(
        "%s: %s, so it cannot be split into PublicTest and PrivateTest: all of it is one test "
        "split (PrivateTest)",
        test_dir,
        problem,
    )
    return usage
