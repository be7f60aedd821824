"""The inputs of prediction: files found under a path, photos decoded and their faces cropped."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.errors import UserError
from fer_lightning.inference import face_detection as fd
from fer_lightning.pixel_limit import TooManyPixels

CSV_SUFFIXES = (".csv", ".csv.gz")


def input_kind(path: Path) -> str:
    """image, video or csv, by the file's suffix (anything else is tried as an image)."""
    if path.name.lower().endswith(CSV_SUFFIXES):
        return "csv"
    return "video" if path.suffix.lower() in fd.VIDEO_SUFFIXES else "image"


def collect_inputs(option: Any) -> tuple[list[tuple[Path, Path]], bool]:
    """-> ([(file, path relative to the input)], whether the input is a folder)."""
    if not option:
        raise UserError(
            "no input given: input=PATH of an image, a folder of images, a video or a pixels CSV"
        )
    path = Path(str(option)).expanduser()
    if not path.exists():
        raise UserError(
            f"{path}: no such file or folder (input=PATH of an image, a folder of images, "
            "a video or a pixels CSV)"
        )
    if path.is_file():
        return [(path, Path(path.name))], False
    suffixes = fd.IMAGE_SUFFIXES + fd.VIDEO_SUFFIXES
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise UserError(
            f"{path}: no images or videos in this folder or below "
            f"({', '.join(s.lstrip('.') for s in suffixes)})"
        )
    return [(p, p.relative_to(path)) for p in files], True


@dataclass
class Photo:
    """A decoded photo with its faces found (or None when the file is unreadable)."""

    image: np.ndarray | None
    boxes: list[fd.Box]
    faces: list[np.ndarray]
    whole: bool = False
    refused: str | None = None  # why a readable file was not decoded (the file named in it)


class PhotoReader:
    """Decoding, detection and cropping of one photo; runs in worker threads (OpenCV frees
    the GIL), each with its own detector since a cascade is not safe to share."""

    def __init__(self, detect: str, margin: float, min_face: int) -> None:
        self.detect, self.margin, self.min_face = detect, margin, min_face
        self.local = threading.local()

    def detector(self) -> fd.FaceDetector:
        if not hasattr(self.local, "detector"):
            self.local.detector = fd.FaceDetector(min_face=self.min_face)
        return self.local.detector

    def __call__(self, path: Path) -> Photo:
        try:
            image = fd.read_image(path)
        except TooManyPixels as error:  # one file's problem: the others are still predicted
            return Photo(None, [], [], refused=str(error))
        if image is None:
            return Photo(None, [], [])
        h, w = image.shape[:2]
        if fd.smaller_than_a_face(path.name, w, h):
            return Photo(image, [], [])
        return self.faces(image)

    def faces(self, image: np.ndarray) -> Photo:
        gray = fd.to_gray(image)
        if self.detect == "never" or (self.detect == "auto" and fd.is_face_crop(image)):
            box = fd.Box(0, 0, gray.shape[1], gray.shape[0])
            return Photo(image, [box], [fd.whole_image_face(gray)], whole=True)
        boxes = self.detector()(gray)
        return Photo(image, boxes, [fd.crop_face(gray, b, self.margin) for b in boxes])


def read_ahead(
    function: Callable[[Path], Photo], paths: Sequence[Path], workers: int
) -> Iterator[Photo]:
    """``map(function, paths)`` in threads, in order, with a bounded number in flight."""
    if workers <= 1:
        yield from map(function, paths)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[Photo]] = deque()
        for path in paths:
            pending.append(pool.submit(function, path))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
