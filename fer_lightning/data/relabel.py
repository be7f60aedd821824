"""FER+ labels on FER2013 faces: ten votes per face become targets for training and evaluation.

The FER+ file is joined row by row (``data.ferplus_path``: same rows, same Usage in each), or
the votes came with the faces (FER+'s image folders: ``FaceSet.votes``). Training
faces get the target of ``data.ferplus_scheme``; validation and test faces the majority label,
which the paper's accuracy is measured against. Faces a split cannot use (no valid target for
training, no majority for evaluation: mostly "unknown" and not-a-face votes) are dropped from
that split after splitting, so the splits stay the ones FER2013's own labels give, less those.
A split the votes empty is named with the votes as the reason (not the split options).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from torch import Tensor

from fer_lightning.data import ferplus
from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import FERPLUS_EMOTIONS
from fer_lightning.errors import DataError

log = logging.getLogger(__name__)


def relabel_ferplus(
    faces: FaceSet,
    indices: dict[str, np.ndarray],
    path: str | None,
    scheme: str = "majority",
    clean: bool = True,
) -> tuple[FaceSet, dict[str, np.ndarray], dict[str, str]]:
    """The faces with FER+ labels and targets, each split without the faces it cannot use, and
    for each split the votes left empty, the one-line reason.

    The votes are the faces' own where the source brought them (``faces.votes``: no alignment
    to check), else those of the vote file at ``path``, joined row by row (rows the CSV
    skipped as bad are left out of both).
    """
    if scheme not in ferplus.SCHEMES:
        raise DataError(
            f"data.ferplus_scheme={scheme!r} is unknown: use one of {', '.join(ferplus.SCHEMES)}"
        )
    if faces.votes is not None:
        if path:
            log.warning(
                "data.ferplus_path=%s is not read: the votes came with the faces of %s",
                path,
                faces.source,
            )
        counts = faces.votes
        source = faces.source
        check = "their label.csv files must hold FER+'s votes, ten a face"
    elif not path:
        raise DataError(
            "data.labels=ferplus needs the FER+ votes beside the FER2013 CSV: "
            "data.ferplus_path=/path/to/fer2013new.csv (or FER+'s image folders: "
            "data=ferplus_folder)"
        )
    else:
        votes = ferplus.read_ferplus_votes(path)
        ferplus.check_aligned(votes, faces.usage, faces.source, faces.skipped_rows)
        counts = votes.votes[faces.source_rows]
        if faces.skipped_rows is not None and len(faces.skipped_rows):
            log.info(
                "FER+: left out the votes of the %d row(s) skipped in %s",
                len(faces.skipped_rows),
                faces.source,
            )
        source = f"{faces.source} + {votes.source}"
        check = f"data.ferplus_path={path} must be FER+'s fer2013new.csv, ten votes a face"
    majority, has_majority = ferplus.majority_labels(counts, clean=clean)
    targets, has_target = ferplus.targets(counts, scheme, clean=clean)
    # A training face without a majority (e.g. 4 happy, 4 surprise) still trains under the soft
    # schemes; its label (for training accuracy) is its target's largest class.
    labels = np.where(has_majority, majority, np.where(has_target, targets.argmax(1), -1))
    targets = np.where(has_target[:, None], targets, 0.0).astype(np.float32)
    relabelled = replace(
        faces,
        labels=labels.astype(np.int64),
        class_names=FERPLUS_EMOTIONS,
        targets=targets,
        source=source,
    )
    usable = {name: has_target if name == "train" else has_majority for name in indices}
    kept = {name: index[usable[name][index]] for name, index in indices.items()}
    emptied = {}
    for name, index in indices.items():
        dropped = index[~usable[name][index]]
        if not len(dropped):
            continue
        reasons = ferplus.drop_reasons(counts[dropped], np.zeros(len(dropped), dtype=bool))
        why = ", ".join(f"{n} {reason}" for reason, n in reasons.items() if n)
        rule = f"{scheme} targets" if name == "train" else "a majority label"
        log.info(
            "FER+ %s: dropped %d of %d faces without %s (%s)",
            name,
            len(dropped),
            len(index),
            rule,
            why,
        )
        if not len(kept[name]):
            fix = check
            if name == "train" and scheme == "majority" and "no clear majority" in why:
                fix += "; data.ferplus_scheme=crossentropy also trains on split votes"
            emptied[name] = (
                f"{source}: the FER+ votes leave no {name} faces: all {len(index)} lack "
                f"{rule} ({why}): {fix}"
            )
    return relabelled, kept, emptied


def scheme_targets(scheme: str, labels: Tensor, targets: Tensor) -> tuple[Tensor, Tensor | None]:
    """What a training batch's loss sees under a FER+ scheme: (labels, soft targets or None).

    majority: the majority label (cross-entropy on it); probability: a label drawn from the
    face's vote distribution, anew each time the face is seen (once an epoch); crossentropy:
    the distribution itself; multilabel: the emotions the votes accept (the module's loss then
    rewards any of them).
    """
    if scheme == "probability":
        return ferplus.draw_labels(targets), None
    if scheme in ("crossentropy", "multilabel"):
        return labels, targets
    return labels, None
