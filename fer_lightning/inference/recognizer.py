"""``EmotionRecognizer``: the emotions of the faces in a photo, a video or a batch of crops.

The Python face of the one inference path: faces are found and cropped as ``predict`` does
(``PhotoReader``), and classified by the same ``Classifier`` that ``eval`` and ``export`` use, so
its numbers equal theirs on the same input.

    >>> from fer_lightning import EmotionRecognizer
    >>> rec = EmotionRecognizer.from_pretrained("ferplus")
    >>> faces = rec.predict("photo.jpg")
    >>> faces[0].label, faces[0].box
    ('happiness', (120, 64, 180, 180))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_lightning.errors import UserError

Image = Any  # a path, a PIL image, or a uint8 numpy array [H, W] / [H, W, 3]


@dataclass(frozen=True)
class Face:
    """One face: its box in the image (x, y, width, height), top emotion and every score;
    in a video, ``track`` follows the same face across frames (None in photos)."""

    box: tuple[int, int, int, int]
    label: str
    scores: dict[str, float]
    track: int | None = None


@dataclass(frozen=True)
class Frame:
    """The faces of one video frame, with its index and time in seconds."""

    index: int
    time_s: float
    faces: list[Face]


class EmotionRecognizer:
    """Faces found, cropped as FER2013's were, and classified by a trained model.

    Build one with ``from_pretrained`` (a model shipped with the package) or
    ``from_checkpoint`` (a run of yours). ``detect``: auto (images that are already face
    crops are taken whole), always or never; ``margin`` widens each face box; ``min_face`` is
    the smallest face side in pixels. ``precision``: auto (bf16 where the device computes it
    natively, else fp32), 32 or bf16.
    """

    def __init__(
        self,
        classifier: Any,
        name: str,
        detect: str = "auto",
        margin: float = 0.2,
        min_face: int = 30,
        card: dict[str, Any] | None = None,
    ) -> None:
        from fer_lightning.inference.face_detection import DETECT_MODES
        from fer_lightning.inference.photos import PhotoReader

        if detect not in DETECT_MODES:
            raise UserError(f"detect={detect!r} is unknown: use {', '.join(DETECT_MODES)}")
        self.classifier = classifier
        self.name = name
        self.card = card
        self.reader = PhotoReader(detect, margin, min_face)

    @classmethod
    def from_pretrained(
        cls,
        name: str = "ferplus",
        device: str = "auto",
        tta: str | None = None,
        precision: str = "auto",
        **detection: Any,
    ) -> EmotionRecognizer:
        """A model shipped with the package (``fer_lightning.zoo.SHIPPED``): nothing to download.

        >>> EmotionRecognizer.from_pretrained("fer2013").classes[:2]
        ('angry', 'disgust')
        """
        from fer_lightning.inference.classifier import Classifier
        from fer_lightning.zoo import card

        classifier = Classifier(pretrained=name, device=device, tta=tta, precision=precision)
        return cls(classifier, name, card=card(name), **detection)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "auto",
        tta: str | None = None,
        precision: str = "auto",
        **detection: Any,
    ) -> EmotionRecognizer:
        """A checkpoint of a run of yours (``<run>/checkpoints/<file>.ckpt``), loaded safely.

        >>> rec = EmotionRecognizer.from_checkpoint("outputs/train/runs/RUN/checkpoints/last.ckpt")
        """
        from fer_lightning.inference.classifier import Classifier

        classifier = Classifier(str(path), device=device, tta=tta, precision=precision)
        return cls(classifier, str(path), **detection)

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names, in the order of ``classify``'s columns."""
        return self.classifier.class_names

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """uint8 face crops [N, 48, 48] -> class probabilities float32 [N, classes].

        >>> rec.classify(np.zeros((2, 48, 48), np.uint8)).shape
        (2, 8)
        """
        crops = np.asarray(crops)
        if crops.ndim == 2:
            crops = crops[None]
        if crops.ndim != 3 or crops.shape[1:] != (48, 48) or crops.dtype != np.uint8:
            raise UserError(
                f"classify takes uint8 face crops [N, 48, 48]; got {crops.dtype} "
                f"{list(crops.shape)} (use predict for whole photos)"
            )
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self.classifier(crops).astype(np.float32)

    def predict(self, images: Image | Sequence[Image], color: str = "rgb") -> Any:
        """The faces of one image (a list of ``Face``), or of each image of a list.

        ``images``: a file path, a PIL image, or a uint8 array, grey [H, W] or colour
        [H, W, 3] in ``color`` order (rgb, as PIL and imageio give; bgr, as OpenCV gives).
        Faces of all the images are classified together in one batch.

        >>> [(f.label, round(f.scores[f.label], 2)) for f in rec.predict("photo.jpg")]
        [('happiness', 0.93)]
        """
        many = isinstance(images, list | tuple)
        photos = [self._photo(image, color) for image in (images if many else [images])]
        crops = [face for photo in photos for face in photo.faces]
        probs = self.classify(np.stack(crops)) if crops else np.zeros((0, len(self.classes)))
        results, start = [], 0
        for photo in photos:
            rows = probs[start : start + len(photo.faces)]
            start += len(photo.faces)
            results.append([self._face(box, p) for box, p in zip(photo.boxes, rows, strict=True)])
        return results if many else results[0]

    def video(self, path: str | Path, every_n_frames: int = 1) -> Iterator[Frame]:
        """The faces of every ``every_n_frames``-th frame of a video file, as they are read,
        each face with a track id that follows it across frames (by box overlap)."""
        from fer_lightning.inference import face_detection as fd

        if every_n_frames < 1:
            raise UserError(f"every_n_frames={every_n_frames} must be 1 or more")
        path = Path(path).expanduser()
        if not path.is_file():
            raise UserError(f"{path}: no such video file")
        fd.require_opencv()
        try:
            frames, fps, _ = fd.video_frames(path, every_n_frames)
        except OSError as error:
            raise UserError(f"{path}: not a readable video ({error})") from None
        from dataclasses import replace

        from fer_lightning.inference.tracking import Tracker

        tracker = Tracker()
        for index, image in frames:
            faces = self.predict(image, color="bgr")
            ids = tracker.update([f.box for f in faces])
            tracked = [replace(f, track=t) for f, t in zip(faces, ids, strict=True)]
            yield Frame(index, index / fps, tracked)

    def _photo(self, image: Image, color: str) -> Any:
        from fer_lightning.inference import face_detection as fd
        from fer_lightning.inference.photos import Photo

        fd.require_opencv()
        bgr = self._bgr(image, color)
        photo: Photo = self.reader.faces(bgr)
        return photo

    @staticmethod
    def _bgr(image: Image, color: str) -> np.ndarray:
        from fer_lightning.inference import face_detection as fd

        if color not in ("rgb", "bgr"):
            raise UserError(f"color={color!r} is unknown: use rgb or bgr")
        if isinstance(image, str | Path):
            path = Path(image).expanduser()
            if not path.is_file():
                raise UserError(f"{path}: no such image file")
            decoded = fd.read_image(path)
            if decoded is None:
                raise UserError(f"{path}: not a readable image")
            return decoded
        if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
            image, color = np.asarray(image.convert("RGB")), "rgb"
        array = np.asarray(image)
        if array.dtype != np.uint8 or array.ndim not in (2, 3):
            raise UserError(
                f"an image array must be uint8 [H, W] or [H, W, 3]; got {array.dtype} "
                f"{list(array.shape)}"
            )
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[..., :3]
        if array.ndim == 3 and array.shape[2] != 3:
            raise UserError(f"an image array needs 1, 3 or 4 channels; got {array.shape[2]}")
        if array.ndim == 3 and color == "rgb":
            array = array[..., ::-1]
        return np.ascontiguousarray(array)

    def _face(self, box: Any, probs: np.ndarray) -> Face:
        scores = {c: float(p) for c, p in zip(self.classes, probs, strict=True)}
        return Face(tuple(int(v) for v in box), self.classes[int(np.argmax(probs))], scores)

    def __repr__(self) -> str:
        return f"EmotionRecognizer({self.name!r}, classes={list(self.classes)})"
