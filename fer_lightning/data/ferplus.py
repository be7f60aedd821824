"""FER+ votes: ten crowd-sourced labels per FER2013 face, and the paper's four training targets.

FER+ (Barsoum, Zhang, Canton Ferrer and Zhang, "Training deep networks for facial expression
recognition with crowd-sourced label distribution", ICMI 2016; github.com/microsoft/FERPlus,
MIT) had ten people label every FER2013 face with one of eight emotions, ``unknown`` or ``NF``
(not a face). Its ``fer2013new.csv`` holds the vote counts, row for row beside ``fer2013.csv``.

The rules below are those of FER+'s own reader (``src/ferplus.py``: ``_process_data``,
``load_folders`` and ``_process_target``; ``src/ReadFERPlus.py`` repeats the probability rule),
written again here, vectorized over all faces; every rule says where it comes from:

- outlier removal: a count of one vote is set to zero, in all ten columns (unknown and NF too);
- ``majority``: the one column with more than half of the remaining votes, else unknown;
- ``probability`` and ``crossentropy``: the top-voted columns, taken in passes of equal counts
  until they hold 75% of the votes or three emotions are in; unknown or NF in a pass stops it;
  the face is kept if what was taken holds more than half the votes and is at most three
  emotions (a pass takes every tie, so four can come in at once);
- ``multilabel`` (the code's ``multi_target``): every column with at least 30% of the votes,
  kept if they hold more than half of the votes;
- a face whose result peaks at unknown or NF is dropped, the two columns are cut, and the
  emotion part is normalized to sum to 1.

Training then uses the target as it is (majority, crossentropy), draws one label from it per
face each epoch (probability; ``draw_labels``), or treats its emotions as equal
(multilabel: FER+'s loss is ``-log max_k target_k * p_k`` over the set). Validation and test use
the majority label (FER+'s ``train.py`` reads them in "majority" mode): ``majority_labels``.
"""

from __future__ import annotations

import numpy as np
import torch

from fer_lightning.data.ferplus_file import (
    NOT_A_FACE,
    UNKNOWN,
    VOTE_COLUMNS,
    FerPlusVotes,
    check_aligned,
    read_ferplus_votes,
)
from fer_lightning.data.labels import EMOTIONS, FERPLUS_EMOTIONS

__all__ = [
    "DROP_REASONS",
    "FERPLUS_EMOTIONS",
    "NOT_A_FACE",
    "SCHEMES",
    "TO_FER2013",
    "UNKNOWN",
    "VOTE_COLUMNS",
    "FerPlusVotes",
    "check_aligned",
    "clean_votes",
    "draw_labels",
    "drop_reasons",
    "majority_labels",
    "read_ferplus_votes",
    "targets",
]

NUM_FERPLUS_CLASSES = len(FERPLUS_EMOTIONS)

SCHEMES: tuple[str, ...] = ("majority", "probability", "crossentropy", "multilabel")
"""The paper's four ways to train on the votes (the code calls multilabel ``multi_target``)."""

# FER2013's label for each FER+ emotion (by name: "happiness" is FER2013's "happy"); contempt,
# new in FER+, has none (-1).
_FER2013_NAMES = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", None)
TO_FER2013: tuple[int, ...] = tuple(
    EMOTIONS.index(name) if name is not None else -1 for name in _FER2013_NAMES
)

DROP_REASONS: tuple[str, ...] = (
    "not a face (NF majority)",
    "unknown majority",
    "unknown or NF among the top votes",
    "no votes at all",
    "no votes left after outlier removal",
    "no clear majority",
)


def _counts(votes: FerPlusVotes | np.ndarray) -> np.ndarray:
    counts = votes.votes if isinstance(votes, FerPlusVotes) else np.asarray(votes)
    if counts.ndim != 2 or counts.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"votes must be [N, {len(VOTE_COLUMNS)}], got {counts.shape}")
    return counts


def clean_votes(votes: FerPlusVotes | np.ndarray) -> np.ndarray:
    """The paper's outlier removal: a column with a single vote counts as none.

    FER+'s ``_process_data`` zeroes every count below 1 + epsilon, in all ten columns: a lone
    unknown or NF vote goes too. Returns a new array of the same dtype, [N, 10].
    """
    counts = _counts(votes)
    return np.where(counts >= 2, counts, 0).astype(counts.dtype)


def _majority(c: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Which columns the majority rule takes: bool [N, 10], one column at most."""
    top = c.argmax(axis=1)  # np.argmax(emotion_raw): with a strict majority there is no tie
    # `maxval > 0.5 * sum_list`, in integers; else the face becomes unknown (dropped).
    has = 2 * c.max(axis=1) > total
    taken = np.zeros(c.shape, dtype=bool)
    taken[np.flatnonzero(has), top[has]] = True
    return taken


def _top_votes(c: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The columns the probability / crossentropy rule takes, and how many emotions.

    FER+'s loop: ``while sum_part < 0.75 * sum_list and count < 3 and valid_emotion``, each
    pass takes every column tied at the highest remaining count, in column order; reaching
    unknown (column 8) or NF (9) ends the loop, and that column stays only if nothing was
    taken before it (``if sum(emotion) > maxval: emotion[i] = 0``).
    """
    n = len(c)
    raw = c.copy()
    taken = np.zeros(c.shape, dtype=bool)
    part = np.zeros(n, dtype=np.int64)  # sum_part
    count = np.zeros(n, dtype=np.int64)  # count: emotions taken
    valid = np.ones(n, dtype=bool)  # valid_emotion
    for _ in range(3):  # each pass takes at least one column, and the loop stops at count 3
        active = (4 * part < 3 * total) & (count < 3) & valid  # sum_part < 0.75 * sum_list
        if not active.any():
            break
        top = raw.max(axis=1)  # > 0 on active rows: a quarter of the votes is still there
        tie = (raw == top[:, None]) & active[:, None]
        # The eight emotions come first in the inner loop: all of them tied at the top go in.
        emotions = tie[:, :NUM_FERPLUS_CLASSES]
        taken[:, :NUM_FERPLUS_CLASSES] |= emotions
        part += top * emotions.sum(axis=1)
        count += emotions.sum(axis=1)
        raw[:, :NUM_FERPLUS_CLASSES][emotions] = 0
        # Then unknown, or NF if unknown is not tied (the loop breaks at the first of them):
        # it ends the loop, and it is kept only when it is all that was taken, so the face
        # becomes unknown / not-a-face and is dropped. Tied with an emotion, the emotion wins.
        special = tie[:, UNKNOWN] | tie[:, NOT_A_FACE]
        column = np.where(tie[:, UNKNOWN], UNKNOWN, NOT_A_FACE)
        alone = special & ~taken.any(axis=1)
        taken[np.flatnonzero(alone), column[alone]] = True
        valid &= ~special
    return taken, count


def _at_least_30(c: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The multi_target rule: ``emotion_raw[i] >= 0.3 * sum_list`` in any of the ten columns."""
    return (10 * c >= 3 * total[:, None]) & (c > 0)


def _first_max_is_emotion(weights: np.ndarray) -> np.ndarray:
    """FER+'s ``load_folders``: ``idx = np.argmax(emotion)``, kept ``if idx < 8``.

    np.argmax takes the first of equal values, so an emotion tied with unknown or NF wins.
    (One stored revision of ferplus.py tests ``idx < self.emotion_count - 2``, which with
    ``emotion_count`` 8 would also drop every fear and contempt face, against its own comment
    "not unknown or non-face"; this follows the comment and the other revision.)
    """
    return weights.argmax(axis=1) < NUM_FERPLUS_CLASSES


def targets(
    votes: FerPlusVotes | np.ndarray, scheme: str, clean: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Each face's training target over the eight emotions, and which faces the scheme keeps.

    Returns float32 [N, 8] (rows sum to 1 where kept, all zero where dropped) and bool [N].

    - majority: one-hot of the column with more than half of the votes.
    - probability, crossentropy: the votes of the top emotions FER+'s loop takes, normalized
      (the same target: probability draws one label from it per epoch, ``draw_labels``).
    - multilabel: the emotions with at least 30% of the votes, equal weights (FER+'s
      ``_process_target`` sets them all to 1: read the set back as ``target > 0``).

    A face is dropped (FER+ leaves it out of training and test) when the rule finds no valid
    emotion or its result peaks at unknown or NF. ``clean=False`` skips the outlier removal,
    which FER+ always does.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown FER+ scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
    c = _counts(votes).astype(np.int64)
    if clean:
        c = clean_votes(c)
    total = c.sum(axis=1)  # sum_list, after outlier removal
    if scheme == "majority":
        weights = np.where(_majority(c, total), c, 0)
        keep = _first_max_is_emotion(weights) & (weights.sum(axis=1) > 0)
    elif scheme in ("probability", "crossentropy"):
        taken, count = _top_votes(c, total)
        weights = np.where(taken, c, 0)
        # `if sum(emotion) <= 0.5 * sum_list or count > 3`: too little taken, or more than
        # three emotions tied (a pass takes every tie, so count can pass 3): unknown.
        kept_votes = weights.sum(axis=1)
        keep = (2 * kept_votes > total) & (count <= 3) & _first_max_is_emotion(weights)
    else:  # multilabel
        chosen = _at_least_30(c, total)
        weights = np.where(chosen, c, 0)
        # `if sum(emotion) <= 0.5 * sum_list`: unknown. Unknown and NF at 30% stay in the
        # vector up to the argmax test, then are cut: only the emotions make the set.
        keep = (2 * weights.sum(axis=1) > total) & _first_max_is_emotion(weights)
        weights = chosen.astype(np.int64)  # the set's members count equally
    # `emotion = emotion[:-2]`, normalized: the target over the eight emotions.
    emotion = weights[:, :NUM_FERPLUS_CLASSES] * keep[:, None]
    sums = emotion.sum(axis=1, keepdims=True)
    out = np.divide(emotion, sums, out=np.zeros(emotion.shape), where=sums > 0)
    return out.astype(np.float32), keep


def majority_labels(
    votes: FerPlusVotes | np.ndarray, clean: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation label: the emotion with more than half of the (cleaned) votes.

    The paper reports accuracy against the majority label, and FER+'s ``train.py`` reads the
    validation and test sets in "majority" mode. Returns int64 [N] indices into
    ``FERPLUS_EMOTIONS`` (-1 where dropped) and the bool [N] keep mask.
    """
    target, keep = targets(votes, "majority", clean)
    labels = np.where(keep, target.argmax(axis=1), -1).astype(np.int64)
    return labels, keep


def draw_labels(
    targets: torch.Tensor | np.ndarray, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One label per face drawn from its target: the paper's probabilistic label drawing.

    FER+'s ``_process_target`` draws anew each time a face is batched, i.e. once per face per
    epoch. ``targets`` is [N, 8] on any device, and ``generator`` (None: torch's own, which the
    runs seed per epoch) must be on the same device;
    rows that sum to zero (dropped faces) get -1. Returns int64 [N] on that device.
    """
    t = torch.as_tensor(targets)
    if t.ndim != 2:
        raise ValueError(f"targets must be [N, classes], got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    valid = t.sum(dim=1) > 0
    # multinomial refuses an all-zero row: give those a uniform one and mark them -1 after.
    safe = torch.where(valid[:, None], t, torch.ones_like(t))
    drawn = torch.multinomial(safe, 1, generator=generator).squeeze(1)
    return torch.where(valid, drawn, torch.full_like(drawn, -1))


def drop_reasons(
    votes: FerPlusVotes | np.ndarray, keep: np.ndarray, clean: bool = True
) -> dict[str, int]:
    """How many dropped faces (``~keep``) fall under each reason, for one log line.

    Decided on the (cleaned) votes alone, in the order of ``DROP_REASONS``: NF or unknown
    with more than half of the votes; unknown or NF tied for or holding the most votes; no
    votes in the file; no votes left (every column had one); otherwise the emotions are too
    split for the scheme.
    Every reason is a key, zeros included.
    """
    raw = _counts(votes).astype(np.int64)
    c = clean_votes(raw) if clean else raw
    keep = np.asarray(keep, dtype=bool)
    total = c.sum(axis=1)
    top = c.max(axis=1)
    reasons = np.select(
        [
            2 * c[:, NOT_A_FACE] > total,
            2 * c[:, UNKNOWN] > total,
            (total > 0) & ((c[:, UNKNOWN] == top) | (c[:, NOT_A_FACE] == top)),
            raw.sum(axis=1) == 0,
            total == 0,
        ],
        [0, 1, 2, 3, 4],
        default=5,
    )
    counts = np.bincount(reasons[~keep], minlength=len(DROP_REASONS))
    return dict(zip(DROP_REASONS, counts.tolist(), strict=True))
