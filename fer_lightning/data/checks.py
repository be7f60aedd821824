"""Checks a data module makes before it builds a split, so a run stops at the real problem."""

from __future__ import annotations

from fer_lightning.data.faces import FaceSet
from fer_lightning.errors import DataError


def check_numbers(
    batch_size: object, eval_batch_size: object, train_ratio: object, val_ratio: object
) -> None:
    """Sizes and ratios, checked when the options are read, not an epoch later."""
    for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
        if value is None and name == "eval_batch_size":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataError(f"data.{name}={value!r}: give a whole number of faces, at least 1")
    for name, value in (("train_ratio", train_ratio), ("val_ratio", val_ratio)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise DataError(f"data.{name}={value!r}: give a fraction in [0, 1), e.g. 0.1")


def check_labelled(faces: FaceSet, labels: str) -> None:
    """Refuse data without a single emotion label for training or evaluation.

    Checked before the splits: with no labels, which Usage rows are missing is beside the point.
    FER+ labels (``labels="ferplus"``) come from votes, and FER+'s image folders are named by
    the data module's own check.
    """
    if labels != "fer2013" or faces.votes is not None or not len(faces):
        return
    if not (faces.labels >= 0).any():
        raise DataError(
            f"{faces.source}: has no emotion labels (no emotion column), so it cannot train or "
            "be evaluated: give a labelled CSV (columns emotion, pixels, Usage), or FER+ votes "
            "with data.labels=ferplus data.ferplus_path=/path/to/fer2013new.csv"
        )
