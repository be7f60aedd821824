"""Train/val/test index splits: by the data set's Usage column, or seeded random by ratio."""

from __future__ import annotations

import logging

import numpy as np

from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import USAGES
from fer_lightning.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
AUTO = "auto"


def resolve_val_usage(faces: FaceSet, val_usage: str | None, test_usage: str | None) -> str | None:
    """``data.val_usage=auto``: PublicTest where the faces have PublicTest rows that are not the
    test split, else None (validation carved from Training); any other value as it is.

    For sources that may or may not record the Usage (image folders): where they do, the split
    is the CSV's (Training / PublicTest / PrivateTest), and PublicTest is never left unused.
    """
    if val_usage != AUTO:
        return val_usage
    public = faces.has_usage and len(faces.usage_index("PublicTest")) > 0
    return "PublicTest" if public and test_usage != "PublicTest" else None


def carve(
    index: np.ndarray, ratio: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``index`` into (rest, carved) with ``round(ratio * len)`` rows carved at random."""
    if not 0.0 <= ratio < 1.0:
        raise DataError(f"a split ratio must lie in [0, 1), got {ratio}")
    shuffled = rng.permutation(index)
    n_carved = round(ratio * len(index))
    return np.sort(shuffled[n_carved:]), np.sort(shuffled[:n_carved])


def split_indices(
    faces: FaceSet,
    split: str = "usage",
    *,
    train_ratio: float = 0.8,
    val_ratio: float = 0.1,
    val_usage: str | None = "PublicTest",
    test_usage: str | None = "PrivateTest",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Row indices of the train, val and test splits (each sorted; pairwise disjoint).

    ``usage``: train is the Training rows, val and test the rows of ``val_usage`` and
    ``test_usage``; with ``val_usage=None`` validation is carved from Training by ``val_ratio``
    (``auto``: PublicTest if there are such rows and they are not the test split, else carved).
    ``random``: the report's protocol, a seeded permutation of all rows cut at ``train_ratio``;
    validation is carved from the train part, so the test part never selects a model.
    """
    rng = np.random.default_rng(seed)
    if split == "random":
        if not 0.0 < train_ratio < 1.0:
            raise DataError(f"data.train_ratio must lie in (0, 1), got {train_ratio}")
        rest, train = carve(np.arange(len(faces)), train_ratio, rng)
        train, val = carve(train, val_ratio, rng)
        return {"train": train, "val": val, "test": rest}
    if split != "usage":
        raise DataError(
            f"data.split={split!r} is unknown: use data.split=usage or data.split=random"
        )
    if not faces.has_usage:
        raise DataError(
            f"{faces.source}: has no Usage column, so data.split=usage cannot work: "
            "use data.split=random (with data.train_ratio)"
        )
    for option, usage in (("val_usage", val_usage), ("test_usage", test_usage)):
        if usage is not None and usage not in USAGES and (option, usage) != ("val_usage", AUTO):
            also = ", auto" if option == "val_usage" else ""
            raise DataError(
                f"data.{option}={usage!r} is unknown: use one of {', '.join(USAGES)}{also} or null"
            )
    if val_usage == AUTO:
        val_usage = resolve_val_usage(faces, val_usage, test_usage)
        log.info(
            "data.val_usage=auto: validation is %s",
            "the PublicTest rows"
            if val_usage
            else "carved from Training by data.val_ratio (PublicTest is the test split or absent)",
        )
    if val_usage is not None and val_usage == test_usage:
        raise DataError(
            f"data.val_usage and data.test_usage are both {val_usage}: never select "
            "models on the split you report; set data.val_usage=null to carve "
            "validation from Training"
        )
    train = faces.usage_index("Training")
    empty = np.empty(0, dtype=np.int64)
    if val_usage is None:
        train, val = carve(train, val_ratio, rng)
    else:
        val = faces.usage_index(val_usage)
    test = faces.usage_index(test_usage) if test_usage is not None else empty
    return {"train": train, "val": val, "test": test}


def describe_empty(
    faces: FaceSet,
    name: str,
    split: str,
    val_usage: str | None,
    test_usage: str | None,
    source: str = "csv",
) -> str:
    """The one-line message for a needed split that came out empty, naming the options.

    ``val_usage`` as configured (``auto`` too); ``source``: ``data.source``, for the fix to name.
    """
    auto = val_usage == AUTO
    val_usage = resolve_val_usage(faces, val_usage, test_usage)
    if split == "usage" and name == "test" and auto and test_usage is not None:
        return (
            f"{faces.source}: has no {test_usage} rows, so the test split is empty: use "
            "data.test_usage=PublicTest (validation is then carved from Training), "
            "or test=false to skip testing"
        )
    if split == "usage" and name == "val" and val_usage is None:
        return (
            "the val split is empty: it is carved from Training by data.val_ratio; "
            "raise it (e.g. data.val_ratio=0.1)"
        )
    if split == "usage" and name in ("val", "test"):
        usage = val_usage if name == "val" else test_usage
        if usage is None:
            return (
                f"the {name} split is empty: data.{name}_usage=null; set it to a Usage "
                f"({', '.join(USAGES)})"
            )
        fix = "data.val_usage=null data.val_ratio=0.1 data.test_usage=PublicTest" + (
            " (or data=fer2013_dev)" if source == "csv" else ""
        )
        return f"{faces.source}: has no {usage} rows, so the {name} split is empty: use {fix}" + (
            ", or test=false to skip testing" if name == "test" else ""
        )
    if name == "train" and split == "usage":
        return f"{faces.source}: has no Training rows: use data.split=random"
    ratio = "data.val_ratio" if name == "val" else "data.train_ratio"
    return f"{faces.source}: the {name} split is empty with {len(faces)} rows: raise {ratio}"
