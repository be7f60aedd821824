"""Faces in real photos: reading images, OpenCV's Haar face detector, FER2013-style crops.

FER2013's faces are 48x48 grayscale crops around a detected face, so a photo goes through the
same steps before the network sees it: detect (the frontal-face Haar cascade that ships inside
the OpenCV wheel, nothing to download), widen the box by a margin (FER2013 crops show some hair
and the chin), clip to the image, convert to gray and shrink to 48x48 with area averaging.
OpenCV is an optional dependency (``pip install 'fer_lightning[predict]'``): this module imports
without it, and ``require_opencv`` turns its absence into a one-line error.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from fer_lightning.data.labels import IMAGE_SIZE
from fer_lightning.errors import UserError
from fer_lightning.pixel_limit import check_file

try:
    import cv2
except ImportError:  # pragma: no cover - depends on the environment
    cv2 = None

log = logging.getLogger("fer_lightning")

CASCADE = "haarcascade_frontalface_default.xml"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
DETECT_MODES = ("auto", "always", "never")
# The frame rate assumed for a video whose file states none (the PAL rate, common in files).
DEFAULT_FPS = 25.0
# Images up to this size that are gray squares are taken to be face crops already (detect=auto).
FACE_CROP_MAX = 64
# Below this many pixels a side an image holds no face worth classifying (a 1x1 image was once
# classified as one): a warning and an empty row, whatever `detect` says.
FACE_MIN = 24


def require_opencv() -> None:
    """Fail with one line when OpenCV is missing (pixel CSVs need no OpenCV; photos do)."""
    if cv2 is None or not hasattr(cv2, "CascadeClassifier"):
        raise UserError(
            "photos and videos need OpenCV 4 with its Haar cascades: pip install "
            "'opencv-python-headless>=4.8,<5' (or the project's [predict] extra)"
        )


class Box(NamedTuple):
    """A face's box in image pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


def smaller_than_a_face(name: str, width: int, height: int) -> bool:
    """True, with the one warning every command gives, for an image too small to hold a face."""
    if min(width, height) >= FACE_MIN:
        return False
    log.warning("%s: %dx%d px is smaller than a face (%d px)", name, width, height, FACE_MIN)
    return True


def read_image(path: str | Path) -> np.ndarray | None:
    """A BGR uint8 [H, W, 3] image, or None when the file is not a readable image.

    Decoding bytes (not ``cv2.imread``) copes with non-ASCII paths everywhere; IMREAD_COLOR
    applies the EXIF orientation, so phone photos come out upright and faces upright. An image
    above the pixel limit raises ``TooManyPixels`` before it is decoded (a decompression bomb
    would take gigabytes and seconds first).
    """
    check_file(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:  # some damaged files make a decoder raise rather than return None
        return None
    return image if image is not None and image.size else None


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an image in the format of its suffix (encoding bytes copes with any path)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OSError(f"{path}: OpenCV cannot encode {path.suffix!r} images")
    data.tofile(str(path))


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR (or already gray) uint8 -> gray uint8 [H, W]."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def is_face_crop(image: np.ndarray) -> bool:
    """True for images that look like FER2013 faces already: 48x48, or small gray squares."""
    h, w = image.shape[:2]
    if (h, w) == (IMAGE_SIZE, IMAGE_SIZE):
        return True
    if h != w or h > FACE_CROP_MAX:
        return False
    if image.ndim == 2:
        return True
    # A gray PNG decoded as BGR has three equal channels.
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


@dataclass
class FaceDetector:
    """OpenCV's frontal-face Haar cascade with the settings that suit photos of people.

    ``min_face`` (pixels of the original image) drops boxes too small to hold a readable
    expression; ``max_side`` shrinks large photos before detection (a 12-megapixel photo takes
    seconds at full size and finds no more faces), boxes are scaled back to the original.
    """

    min_face: int = 30
    scale_factor: float = 1.1
    min_neighbors: int = 5
    max_side: int = 1600
    cascade_path: str | None = None

    def __post_init__(self) -> None:
        require_opencv()
        path = self.cascade_path or str(Path(cv2.data.haarcascades) / CASCADE)
        self._cascade: Any = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise UserError(f"{path}: OpenCV could not load the face detector's cascade")

    def __call__(self, gray: np.ndarray) -> list[Box]:
        """Boxes of the faces in a gray image, left to right (then top to bottom)."""
        scale = min(1.0, self.max_side / max(gray.shape[:2]))
        if scale < 1.0:
            size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        min_size = max(1, round(self.min_face * scale))
        found = self._cascade.detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_size, min_size),
        )
        boxes = [Box(*(round(int(v) / scale) for v in box)) for box in found]
        return sorted(boxes, key=lambda b: (b.x, b.y))


def crop_face(
    gray: np.ndarray, box: Box, margin: float = 0.2, size: int = IMAGE_SIZE
) -> np.ndarray:
    """The face in ``box`` as a uint8 [size, size] crop, as FER2013's faces were cut.

    The box grows by ``margin`` times its width (height) on each side, clipped to the image;
    a face at the image's edge then gets a slightly squeezed crop rather than black borders,
    which the network never saw in training.
    """
    if margin < 0:
        raise UserError(f"margin={margin} must be >= 0 (a fraction of the face box, e.g. 0.2)")
    height, width = gray.shape[:2]
    dx, dy = round(box.w * margin), round(box.h * margin)
    left, top = max(0, box.x - dx), max(0, box.y - dy)
    right, bottom = min(width, box.x + box.w + dx), min(height, box.y + box.h + dy)
    face = gray[top:bottom, left:right]
    if face.size == 0:
        raise ValueError(f"{box} lies outside the {width}x{height} image")
    interpolation = cv2.INTER_AREA if min(face.shape) >= size else cv2.INTER_LINEAR
    return cv2.resize(face, (size, size), interpolation=interpolation)


def whole_image_face(gray: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The whole image as the face (detect=never, or a face crop already)."""
    if gray.shape == (size, size):
        return np.ascontiguousarray(gray)
    interpolation = cv2.INTER_AREA if min(gray.shape) >= size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interpolation)


def annotate(
    image: np.ndarray, boxes: list[Box], labels: list[str], min_side: int = 360
) -> np.ndarray:
    """A copy of the BGR image with a box and a label ("happy 0.87") per face.

    Small images (a 48x48 face) are enlarged first so the label stays legible; lines and text
    scale with the image.
    """
    scale = max(1, -(-min_side // max(1, min(image.shape[:2]))))  # ceil
    out = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if scale > 1:
        out = cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    else:
        out = out.copy()
    side = min(out.shape[:2])
    thickness = max(1, round(side / 300))
    font_scale = max(0.4, side / 900)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for box, label in zip(boxes, labels, strict=True):
        x, y, w, h = (v * scale for v in box)
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (0, 220, 0), thickness)
        (tw, th), base = cv2.getTextSize(label, font, font_scale, thickness)
        # The label sits on a filled bar above the box, or inside it at the image's top edge.
        top = y - th - base - 2 * thickness if y - th - base - 2 * thickness >= 0 else y
        corner = (x + tw + 2 * thickness, top + th + base + thickness)
        cv2.rectangle(out, (x, top), corner, (0, 220, 0), cv2.FILLED)
        origin = (x + thickness, top + th + thickness // 2)
        cv2.putText(out, label, origin, font, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
    if not boxes:
        origin = (thickness * 4, round(30 * font_scale) + thickness * 4)
        cv2.putText(out, "no face", origin, font, font_scale, (0, 0, 255), thickness, cv2.LINE_AA)
    return out


def video_frames(
    path: str | Path, every: int
) -> tuple[Iterator[tuple[int, np.ndarray]], float, int]:
    """-> (every ``every``-th frame as (index, BGR image), frames per second, frame count or 0).

    Skipped frames are only grabbed, not converted to images. Raises OSError when OpenCV cannot
    open the file as a video.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise OSError("OpenCV cannot open it as a video")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    if not math.isfinite(fps) or fps <= 0:  # the times of its frames would be meaningless
        log.warning("%s: states no frame rate; times assume %g frames/s", path, DEFAULT_FPS)
        fps = DEFAULT_FPS
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        index = 0
        try:
            while True:
                if index % every:
                    if not capture.grab():
                        return
                else:
                    ok, frame = capture.read()
                    if not ok:
                        return
                    yield index, frame
                index += 1
        finally:
            capture.release()

    return frames(), fps, total


def video_writer(path: str | Path, fps: float, width: int, height: int) -> Any:
    """An MPEG-4 (mp4v) cv2.VideoWriter, the codec every OpenCV wheel's FFmpeg can write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write mp4v videos here")
    return writer
