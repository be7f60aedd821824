"""The one in-memory form of a face data set that every source produces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_lightning.data.labels import EMOTIONS, IMAGE_SIZE, USAGES


@dataclass(frozen=True)
class FaceSet:
    """Faces as one uint8 array, so batches are one indexing operation away.

    ``labels`` is -1 for unlabelled rows; ``usage`` holds indices into ``USAGES`` or -1 where the
    source records no usage. Relabelled sets (FER+) carry their ``class_names`` and may carry
    ``targets``, a training target distribution per face (a row of zeros: not for training).
    ``votes`` are FER+'s ten vote counts per face where the source brought them (FER+'s image
    folders): ``data.labels=ferplus`` then needs no separate vote file. ``skipped_rows`` are
    the 0-based rows of the source file left out as bad (``data.on_bad_rows=skip``): FER+
    votes, joined to a CSV by row number, leave them out too.
    """

    images: np.ndarray  # uint8 [N, 48, 48]
    labels: np.ndarray  # int64 [N]
    usage: np.ndarray  # int8 [N]
    source: str  # where the faces came from, for messages
    class_names: tuple[str, ...] = EMOTIONS
    targets: np.ndarray | None = None  # float32 [N, classes]
    votes: np.ndarray | None = None  # uint8 [N, 10]: FER+ vote counts, in VOTE_COLUMNS order
    skipped_rows: np.ndarray | None = None  # int64 [K]: source rows left out, ascending

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(
                f"images must be uint8 [N, 48, 48], got {self.images.dtype} {self.images.shape}"
            )
        if self.labels.shape != (n,) or self.usage.shape != (n,):
            raise ValueError("labels and usage must have one entry per image")
        if self.targets is not None and self.targets.shape != (n, len(self.class_names)):
            raise ValueError("targets must be [N, classes]")
        if self.votes is not None and (self.votes.dtype != np.uint8 or self.votes.shape != (n, 10)):
            raise ValueError(
                f"votes must be uint8 [N, 10], got {self.votes.dtype} {self.votes.shape}"
            )

    @property
    def source_rows(self) -> np.ndarray:
        """The 0-based row of the source file each face came from."""
        skipped = self.skipped_rows if self.skipped_rows is not None else np.empty(0, np.int64)
        return np.delete(np.arange(len(self) + len(skipped)), skipped)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def has_labels(self) -> bool:
        return bool((self.labels >= 0).all())

    @property
    def has_usage(self) -> bool:
        return bool((self.usage >= 0).all())

    def class_counts(self, index: np.ndarray | None = None) -> dict[str, int]:
        labels = self.labels if index is None else self.labels[index]
        counts = np.bincount(labels[labels >= 0], minlength=len(self.class_names))
        return dict(zip(self.class_names, counts.tolist(), strict=True))

    def usage_index(self, usage: str) -> np.ndarray:
        """Indices of the rows of one Usage (e.g. ``"PublicTest"``)."""
        return np.flatnonzero(self.usage == USAGES.index(usage))
