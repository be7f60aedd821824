"""Every input of a prediction through the batches: photos, video frames, rows of a pixels CSV."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from fer_lightning.data.csv_source import read_fer_csv
from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import IMAGE_SIZE
from fer_lightning.errors import DataError
from fer_lightning.inference import face_detection as fd
from fer_lightning.inference.batching import Batcher, Picture, Source
from fer_lightning.inference.photos import PhotoReader, input_kind, read_ahead
from fer_lightning.inference.video_tracks import VideoTracks

log = logging.getLogger("fer_lightning")

# The CSV reader's advice after a bad row: " (data.on_bad_rows=skip drops bad rows)" and the like.
TRAINING_ADVICE = re.compile(r"[\s(;,]*data\.on_bad_rows\b.*$")


def feed(
    inputs: Sequence[tuple[Path, Path]],
    folder: bool,
    reader: PhotoReader,
    batcher: Batcher,
    every_n_frames: int,
    annotate: bool,
) -> list[str]:
    """Send every input's faces to ``batcher`` in order; returns why each skipped file was.

    Photos are decoded and searched for faces in threads ahead of the network. A file that
    cannot be read is one warning and skipped: the others are still predicted.
    """
    skipped: list[str] = []
    with logging_redirect_tqdm():
        photos = [p for p, _ in inputs if input_kind(p) == "image"]
        workers = min(4, os.cpu_count() or 1) if len(photos) > 1 else 1
        decoded = read_ahead(reader, photos, workers)
        bar = tqdm(total=len(inputs), unit="file", disable=None if folder else True)
        for path, relative in inputs:
            name = str(relative) if folder else str(path)
            kind = input_kind(path)
            problem = None
            if kind == "image":
                photo = next(decoded)
                if photo.image is None:
                    problem = photo.refused or f"{name}: not a readable image"
                else:
                    source = Source(name, kind, relative, whole=photo.whole)
                    image = photo.image if annotate else None
                    batcher.add(Picture(source, None, photo.boxes, image, last=True), photo.faces)
            elif kind == "video":
                problem = feed_video(
                    path, name, relative, reader, batcher, every_n_frames, annotate
                )
            else:
                feed_csv(path, name, batcher)
            if problem:
                log.warning("%s, skipped", problem)
                skipped.append(problem)
            bar.update()
        bar.close()
        batcher.flush()
    return skipped


def feed_video(
    path: Path,
    name: str,
    relative: Path,
    reader: PhotoReader,
    batcher: Batcher,
    every_n_frames: int,
    annotate: bool,
) -> str | None:
    """Every ``every_n_frames``-th frame of a video; why not, when it cannot be read."""
    try:
        frames, fps, total = fd.video_frames(path, every_n_frames)
    except OSError as error:
        return f"{name}: not a readable video ({error})"
    tracks = VideoTracks(fps, every_n_frames)
    source = Source(name, "video", relative, fps=max(1.0, fps / every_n_frames), video=tracks)
    bar = tqdm(total=total or None, unit="frame", leave=False, disable=None, desc=name)
    sampled = 0
    for index, frame in frames:
        photo = reader.faces(frame)
        batcher.add(Picture(source, index, photo.boxes, frame if annotate else None), photo.faces)
        sampled += 1
        bar.update(every_n_frames)
    bar.close()
    if not sampled:
        return f"{name}: no frame could be decoded"
    batcher.add(Picture(source, None, [], None, last=True), [])  # its summary follows its frames
    return None


def read_csv_faces(path: Path) -> FaceSet:
    """Every row of a pixels CSV, or one line naming the first bad row and predict's fix.

    The reader's advice for a bad row is a training option (``data.on_bad_rows``) that predict
    does not have: predict writes one result per row, so a bad row is fixed, not skipped.
    """
    try:
        return read_fer_csv(path)
    except DataError as error:
        advice = TRAINING_ADVICE.search(str(error))
        if advice is None:
            raise
        problem = str(error)[: advice.start()]
        raise DataError(f"{problem}: fix or delete that row (predict reads every row)") from None


def feed_csv(path: Path, name: str, batcher: Batcher) -> None:
    """One prediction per row of a pixels CSV (the faces are FER2013 crops already)."""
    faces = read_csv_faces(path)
    labels = faces.labels if faces.has_labels else None
    source = Source(name, "csv", Path(path.name), labels=labels)
    box = (0, 0, IMAGE_SIZE, IMAGE_SIZE)
    for row, image in enumerate(faces.images):
        batcher.add(Picture(source, row, [box], None), image[None])
    batcher.add(Picture(source, None, [], None, last=True), [])
