"""What prediction writes: predictions.csv (and .jsonl), annotated copies, a line per input.

Every row names the model that made it; a video's rows add the frame's time and each face's
track, and each video's tracks are summed up in video_summary.csv (``video_tracks``).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from fer_lightning.data.labels import EMOTIONS
from fer_lightning.inference import face_detection as fd
from fer_lightning.inference.batching import Picture, Source
from fer_lightning.inference.video_tracks import SummaryFile

log = logging.getLogger("fer_lightning")

# predictions.csv's columns before one probability per class: the classes stay last, so
# files of models with other classes keep the same leading columns.
COLUMNS = ["model", "file", "frame", "time_s", "track", "x", "y", "w", "h", "emotion", "confidence"]


def label_classes(class_names: Sequence[str]) -> np.ndarray | None:
    """The model's class index of each FER2013 label of a CSV's emotion column, by name.

    None when the model lacks one of FER2013's emotions (FER+'s eight classes name them
    differently and add contempt): an accuracy comparing indices of two label sets would be
    a number about nothing.
    """
    if not set(EMOTIONS) <= set(class_names):
        return None
    return np.array([list(class_names).index(e) for e in EMOTIONS])


class Outputs:
    """predictions.csv (and .jsonl), annotated copies, and one console line per input."""

    def __init__(
        self,
        output_dir: Path,
        class_names: Sequence[str],
        jsonl: bool,
        annotate: bool,
        model: str = "",
    ) -> None:
        self.output_dir, self.class_names, self.annotate = output_dir, list(class_names), annotate
        self.model = model  # on every row: a file of predictions says which model made them
        output_dir.mkdir(parents=True, exist_ok=True)
        self.csv_file: TextIO = (output_dir / "predictions.csv").open("w", newline="")
        self.rows = csv.writer(self.csv_file)
        self.rows.writerow(COLUMNS + self.class_names)
        self.jsonl: TextIO | None = (output_dir / "predictions.jsonl").open("w") if jsonl else None
        self.summaries = SummaryFile(output_dir, self.class_names)
        self.faces = 0
        self.files = 0
        self.label_classes = label_classes(self.class_names)

    def close(self) -> None:
        self.csv_file.close()
        self.summaries.close()
        if self.jsonl is not None:
            self.jsonl.close()

    def __call__(self, picture: Picture) -> None:
        source = picture.source
        if picture.frame is not None or source.kind == "image":
            self._write(picture)
        if picture.last:
            self._summarize(source)

    def _write(self, picture: Picture) -> None:
        source = picture.source
        source.pictures += 1
        probs = [p for p in picture.probs if p is not None]
        emotions = [self.class_names[int(p.argmax())] for p in probs]
        time_s: float | None = None
        tracks: list[int | None] = [None] * len(probs)
        if source.video is not None and picture.frame is not None:
            time_s = round(source.video.time_s(picture.frame), 3)
            tracks = list(source.video.observe(picture.frame, picture.boxes, emotions))
        where = {"model": self.model, "file": source.name, "frame": picture.frame, "time_s": time_s}
        frame = "" if picture.frame is None else picture.frame
        cells = [self.model, source.name, frame, "" if time_s is None else f"{time_s:.3f}"]
        if not picture.boxes:
            source.empty += 1
            self.rows.writerow([*cells, *[""] * (len(COLUMNS) - len(cells) + self.classes)])
            self._json(where, None, None, None)
        labels = []
        for box, p, emotion, track in zip(picture.boxes, probs, emotions, tracks, strict=True):
            confidence = float(p.max())
            labels.append(f"{f'#{track} ' if track else ''}{emotion} {confidence:.2f}")
            source.faces += 1
            source.counts[emotion] += 1
            if source.kind == "image":
                source.best.append((emotion, confidence))
            labelled = source.labels is not None and self.label_classes is not None
            if labelled and picture.frame is not None:
                expected = self.label_classes[source.labels[picture.frame]]
                source.correct += int(expected == int(p.argmax()))
            values = [f"{v:.6f}" for v in p.tolist()]
            track_cell = "" if track is None else track
            row = [*cells, track_cell, *box, emotion, f"{confidence:.6f}", *values]
            self.rows.writerow(row)
            self._json(where, track, box, p)
        self.faces += len(picture.boxes)
        if self.annotate and source.annotate and picture.image is not None:
            self._annotate(picture, labels)

    @property
    def classes(self) -> int:
        return len(self.class_names)

    def _json(
        self, where: dict[str, Any], track: int | None, box: Any, probs: np.ndarray | None
    ) -> None:
        if self.jsonl is None:
            return
        record: dict[str, Any] = {**where, "track": track, "box": None, "emotion": None}
        if box is not None and probs is not None:
            best = int(probs.argmax())
            record["box"] = dict(zip("xywh", (int(v) for v in box), strict=True))
            record["emotion"] = self.class_names[best]
            record["confidence"] = round(float(probs[best]), 6)
            record["probabilities"] = {
                c: round(float(p), 6) for c, p in zip(self.class_names, probs, strict=True)
            }
        self.jsonl.write(json.dumps(record) + "\n")

    def _annotate(self, picture: Picture, labels: list[str]) -> None:
        """The image with its boxes under annotated/; a video's frames as an .mp4 there."""
        source = picture.source
        image = fd.annotate(picture.image, list(picture.boxes), labels)
        target = self.output_dir / "annotated" / source.relative
        try:
            if source.kind == "image":
                fd.write_image(target, image)
                return
            if source.writer is None:
                height, width = image.shape[:2]
                source.writer = fd.video_writer(
                    target.with_suffix(".mp4"), source.fps, width, height
                )
            source.writer.write(image)
        except OSError as error:
            log.warning("%s: no annotated copy (%s)", source.name, error)
            source.annotate = False

    def _summarize(self, source: Source) -> None:
        self.files += 1
        if source.writer is not None:
            source.writer.release()
        counts = ", ".join(f"{e} {n}" for e, n in source.counts.most_common())
        if source.kind == "image":
            if not source.faces:
                log.warning("%s: no face found (a row with an empty emotion)", source.name)
                return
            faces = ", ".join(f"{e} ({c:.2f})" for e, c in source.best)
            whole = " (the whole image)" if source.whole else ""
            plural = "face" if source.faces == 1 else "faces"
            log.info("%s: %d %s%s: %s", source.name, source.faces, plural, whole, faces)
        elif source.kind == "video":
            tracks = len(source.video.tracks) if source.video is not None else 0
            log.info(
                "%s: %d sampled frames, %d faces in %d track(s): %s",
                source.name,
                source.pictures,
                source.faces,
                tracks,
                counts or "-",
            )
            if source.video is not None:
                self.summaries.write(source.name, source.video)
            if source.empty:
                log.warning(
                    "%s: no face in %d of %d sampled frames (rows with an empty emotion)",
                    source.name,
                    source.empty,
                    source.pictures,
                )
        else:
            accuracy = ""
            if source.labels is not None and source.faces and self.label_classes is not None:
                accuracy = f"; accuracy {source.correct / source.faces:.4f} against its labels"
            log.info("%s: %d faces: %s%s", source.name, source.faces, counts, accuracy)
            if source.labels is not None and self.label_classes is None:
                log.warning(
                    "%s: no accuracy: its emotion column holds FER2013's labels (%s), the model "
                    "predicts other classes (%s) and the two sets do not match by name",
                    source.name,
                    ", ".join(EMOTIONS),
                    ", ".join(self.class_names),
                )
