"""Faces of many pictures share the network's batches; pictures leave in the order they came."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.inference import face_detection as fd
from fer_lightning.inference.video_tracks import VideoTracks


@dataclass
class Source:
    """One input file, with what its console summary needs."""

    name: str  # as written in predictions.csv
    kind: str  # image, video or csv
    relative: Path  # where its annotated copy goes under annotated/
    whole: bool = False  # the whole image was taken as the face (no detection)
    labels: np.ndarray | None = None  # a labelled CSV's emotion column
    fps: float = 0.0  # of its annotated copy: one frame per sampled frame
    video: VideoTracks | None = None  # a video's times and tracks
    pictures: int = 0
    empty: int = 0
    faces: int = 0
    counts: Counter = field(default_factory=Counter)
    best: list[tuple[str, float]] = field(default_factory=list)
    correct: int = 0
    writer: Any = None  # cv2.VideoWriter of an annotated video
    annotate: bool = True  # false after writing its annotated copy failed


@dataclass
class Picture:
    """One image, video frame or CSV row with its faces; done when every face has its probs."""

    source: Source
    frame: int | None
    boxes: Sequence[fd.Box | tuple[int, int, int, int]]
    image: np.ndarray | None  # BGR, kept only for the annotated copy
    probs: list[np.ndarray | None] = field(default_factory=list)
    last: bool = False  # the source's last picture: its summary follows it

    def __post_init__(self) -> None:
        self.probs = [None] * len(self.boxes)

    @property
    def done(self) -> bool:
        return all(p is not None for p in self.probs)


class Batcher:
    """Collects faces from many pictures and runs the network on full batches of them.

    Pictures leave (``emit``) in the order they came, as soon as all their faces are classified,
    so the outputs follow the inputs however the faces fall into batches. Waiting pictures keep
    their image for the annotated copy: past ``max_bytes`` of them (large photos, HD video) a
    partial batch runs rather than memory filling up.
    """

    def __init__(
        self,
        classify: Callable[[np.ndarray], np.ndarray],
        batch_size: int,
        emit: Callable[[Picture], None],
        max_bytes: int = 256 * 2**20,
    ) -> None:
        self.classify, self.batch_size, self.emit = classify, batch_size, emit
        self.max_bytes = max_bytes
        self.pictures: deque[Picture] = deque()
        self.faces: deque[tuple[Picture, int, np.ndarray]] = deque()
        self.held = 0  # bytes of the images of waiting pictures
        self.count = 0

    def add(self, picture: Picture, faces: Sequence[np.ndarray] | np.ndarray) -> None:
        self.pictures.append(picture)
        self.held += 0 if picture.image is None else picture.image.nbytes
        self.faces.extend((picture, i, face) for i, face in enumerate(faces))
        while len(self.faces) >= self.batch_size:
            self._run(self.batch_size)
        self._emit_done()
        while self.held > self.max_bytes and self.faces:
            self._run(min(self.batch_size, len(self.faces)))
            self._emit_done()

    def flush(self) -> None:
        while self.faces:
            self._run(min(self.batch_size, len(self.faces)))
        self._emit_done()

    def _run(self, n: int) -> None:
        batch = [self.faces.popleft() for _ in range(n)]
        probs = self.classify(np.stack([face for _, _, face in batch]))
        for (picture, i, _), p in zip(batch, probs, strict=True):
            picture.probs[i] = p
        self.count += n

    def _emit_done(self) -> None:
        while self.pictures and self.pictures[0].done:
            picture = self.pictures.popleft()
            self.held -= 0 if picture.image is None else picture.image.nbytes
            self.emit(picture)
