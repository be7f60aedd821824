"""`python -m fer_lightning.predict ckpt_path=PATH input=PATH` (`fer-predict`): emotions in photos.

``input`` is an image, a folder of images (searched recursively; videos in it count too), a video
(every ``every_n_frames``-th frame) or a FER2013-style pixels CSV (one prediction per row, no
detection). Faces are found with OpenCV's Haar cascade, cropped with a ``margin``, made 48x48
gray, and preprocessed by the checkpoint's own data module, so the network sees exactly what it
saw in evaluation (``tta`` adds test-time augmentation). Faces of many pictures share the
network's batches. Written to the run folder: ``predictions.csv`` (one row per face; a picture
with no face gets a row with an empty emotion), ``predictions.jsonl`` (``jsonl=true``) and
``annotated/`` copies with a box and "happy 0.87" per face (``annotate=true``).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import hydra
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from fer_lightning import faces_detect as fd
from fer_lightning.augment import build_augmentation
from fer_lightning.checkpoints import load_classifier
from fer_lightning.data.csv_source import read_fer_csv
from fer_lightning.data.labels import IMAGE_SIZE
from fer_lightning.errors import UserError
from fer_lightning.train import register_resolvers

log = logging.getLogger("fer_lightning")
register_resolvers()

CSV_SUFFIXES = (".csv", ".csv.gz")


# -- the network ---------------------------------------------------------------------------------
def pick_device(option: str) -> torch.device:
    """``auto``: the GPU when there is one (CUDA, then Apple's MPS), else the CPU."""
    if option == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(option)
    except RuntimeError:
        raise UserError(f"device={option!r} is unknown: use auto, cpu, cuda or cuda:N") from None


class FaceClassifier:
    """A checkpoint's network behind its run's evaluation preprocessing: uint8 faces -> probs.

    The run's own data module (rebuilt from the config inside the checkpoint) does the
    preprocessing, so x/255, the channel replication, the evaluation crop and the normalization
    cannot drift from what the network was trained and evaluated with.
    """

    def __init__(self, ckpt_path: str | Path, tta: str = "none", device: str = "auto") -> None:
        module, config = load_classifier(ckpt_path)
        self.config = config
        self.class_names: tuple[str, ...] = tuple(module.class_names)
        self.device = pick_device(device)
        self.net = module.net.to(self.device).eval()
        augmentation = build_augmentation(config.aug, config.model.num_classes, tta=tta)
        self.datamodule = instantiate(config.data, _partial_=True)(augmentation=augmentation)
        self.seconds = 0.0  # time spent in the network, for the throughput line

    @torch.inference_mode()
    def __call__(self, faces: np.ndarray) -> np.ndarray:
        """uint8 [N, 48, 48] -> float [N, classes]; several views' softmax averaged, as in eval."""
        start = time.perf_counter()
        images = torch.from_numpy(np.ascontiguousarray(faces)).to(self.device)
        labels = torch.zeros(len(images), dtype=torch.int64, device=self.device)
        x, _, _ = self.datamodule.preprocess(images, labels, train=False)
        if x.ndim == 5:  # views per face (ten-crop, hflip): average their softmax
            b, v = x.shape[:2]
            probs = self.net(x.flatten(0, 1)).softmax(dim=-1).view(b, v, -1).mean(dim=1)
        else:
            probs = self.net(x).softmax(dim=-1)
        result = probs.float().cpu().numpy()
        self.seconds += time.perf_counter() - start
        return result


# -- what flows through the batches --------------------------------------------------------------
@dataclass
class Source:
    """One input file, with what its console summary needs."""

    name: str  # as written in predictions.csv
    kind: str  # image, video or csv
    relative: Path  # where its annotated copy goes under annotated/
    whole: bool = False  # the whole image was taken as the face (no detection)
    labels: np.ndarray | None = None  # a labelled CSV's emotion column
    fps: float = 0.0
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


# -- outputs -------------------------------------------------------------------------------------
class Outputs:
    """predictions.csv (and .jsonl), annotated copies, and one console line per input."""

    def __init__(
        self, output_dir: Path, class_names: Sequence[str], jsonl: bool, annotate: bool
    ) -> None:
        self.output_dir, self.class_names, self.annotate = output_dir, list(class_names), annotate
        output_dir.mkdir(parents=True, exist_ok=True)
        self.csv_file: TextIO = (output_dir / "predictions.csv").open("w", newline="")
        self.rows = csv.writer(self.csv_file)
        header = ["file", "frame", "x", "y", "w", "h", "emotion", "confidence"]
        self.rows.writerow(header + self.class_names)
        self.jsonl: TextIO | None = (output_dir / "predictions.jsonl").open("w") if jsonl else None
        self.faces = 0
        self.files = 0

    def close(self) -> None:
        self.csv_file.close()
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
        frame = "" if picture.frame is None else picture.frame
        if not picture.boxes:
            source.empty += 1
            self.rows.writerow([source.name, frame, *[""] * (6 + len(self.class_names))])
            self._json(source.name, picture.frame, None, None)
        labels = []
        for box, probs in zip(picture.boxes, picture.probs, strict=True):
            assert probs is not None
            best = int(probs.argmax())
            emotion, confidence = self.class_names[best], float(probs[best])
            labels.append(f"{emotion} {confidence:.2f}")
            source.faces += 1
            source.counts[emotion] += 1
            if source.kind == "image":
                source.best.append((emotion, confidence))
            if source.labels is not None and picture.frame is not None:
                source.correct += int(source.labels[picture.frame] == best)
            values = [f"{p:.6f}" for p in probs.tolist()]
            self.rows.writerow([source.name, frame, *box, emotion, f"{confidence:.6f}", *values])
            self._json(source.name, picture.frame, box, probs)
        self.faces += len(picture.boxes)
        if self.annotate and source.annotate and picture.image is not None:
            self._annotate(picture, labels)

    def _json(self, name: str, frame: int | None, box: Any, probs: np.ndarray | None) -> None:
        if self.jsonl is None:
            return
        record: dict[str, Any] = {"file": name, "frame": frame, "box": None, "emotion": None}
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
            log.info(
                "%s: %d sampled frames, %d faces: %s",
                source.name,
                source.pictures,
                source.faces,
                counts or "-",
            )
            if source.empty:
                log.warning(
                    "%s: no face in %d of %d sampled frames (rows with an empty emotion)",
                    source.name,
                    source.empty,
                    source.pictures,
                )
        else:
            accuracy = ""
            if source.labels is not None and source.faces:
                accuracy = f"; accuracy {source.correct / source.faces:.4f} against its labels"
            log.info("%s: %d faces: %s%s", source.name, source.faces, counts, accuracy)


# -- inputs --------------------------------------------------------------------------------------
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
        image = fd.read_image(path)
        if image is None:
            return Photo(None, [], [])
        h, w = image.shape[:2]
        if min(h, w) < fd.FACE_MIN:
            log.warning("%s: %dx%d px is smaller than a face (%d px)", path.name, w, h, fd.FACE_MIN)
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


# -- the command ---------------------------------------------------------------------------------
def check_options(cfg: DictConfig) -> None:
    if cfg.detect not in fd.DETECT_MODES:
        raise UserError(f"detect={cfg.detect!r} is unknown: use {', '.join(fd.DETECT_MODES)}")
    for key, minimum in (("every_n_frames", 1), ("batch_size", 1), ("min_face", 1)):
        if not isinstance(cfg[key], int) or cfg[key] < minimum:
            raise UserError(f"{key}={cfg[key]!r} must be an integer >= {minimum}")
    if not isinstance(cfg.margin, int | float) or cfg.margin < 0:
        raise UserError(f"margin={cfg.margin!r} must be a number >= 0 (e.g. 0.2)")


def predict(cfg: DictConfig) -> Path:
    """Predict the emotions of the faces in ``cfg.input``; returns the run folder."""
    check_options(cfg)
    if not cfg.get("ckpt_path"):
        raise UserError("no checkpoint given: ckpt_path=<run folder>/checkpoints/last.ckpt")
    inputs, folder = collect_inputs(cfg.get("input"))
    if any(input_kind(p) != "csv" for p, _ in inputs):
        fd.require_opencv()
    classifier = FaceClassifier(cfg.ckpt_path, tta=cfg.tta, device=cfg.device)
    output_dir = Path(cfg.paths.output_dir)
    outputs = Outputs(output_dir, classifier.class_names, cfg.jsonl, cfg.annotate)
    batcher = Batcher(classifier, cfg.batch_size, outputs)
    reader = PhotoReader(cfg.detect, float(cfg.margin), int(cfg.min_face))
    start = time.perf_counter()
    skipped = 0
    try:
        with logging_redirect_tqdm():
            photos = [(p, r) for p, r in inputs if input_kind(p) == "image"]
            workers = min(4, os.cpu_count() or 1) if len(photos) > 1 else 1
            decoded = read_ahead(reader, [p for p, _ in photos], workers)
            bar = tqdm(total=len(inputs), unit="file", disable=None if folder else True)
            for path, relative in inputs:
                name = str(relative) if folder else str(path)
                kind = input_kind(path)
                if kind == "image":
                    photo = next(decoded)
                    if photo.image is None:
                        log.warning("%s: not a readable image, skipped", name)
                        skipped += 1
                    else:
                        source = Source(name, kind, relative, whole=photo.whole)
                        image = photo.image if cfg.annotate else None
                        picture = Picture(source, None, photo.boxes, image, last=True)
                        batcher.add(picture, photo.faces)
                elif kind == "video":
                    skipped += not predict_video(path, name, relative, cfg, reader, batcher)
                else:
                    predict_csv(path, name, batcher)
                bar.update()
            bar.close()
            batcher.flush()
    finally:
        outputs.close()
    seconds = time.perf_counter() - start
    if not outputs.files:
        raise UserError(f"{cfg.input}: nothing could be read ({skipped} unreadable file(s))")
    log.info(
        "%d face(s) from %d file(s)%s in %.1f s: %.1f faces/s (network alone %.0f faces/s on %s)",
        outputs.faces,
        outputs.files,
        f", {skipped} skipped" if skipped else "",
        seconds,
        outputs.faces / max(seconds, 1e-9),
        outputs.faces / max(classifier.seconds, 1e-9),
        classifier.device,
    )
    log.info("Predictions in %s", output_dir / "predictions.csv")
    return output_dir


def predict_video(
    path: Path, name: str, relative: Path, cfg: DictConfig, reader: PhotoReader, batcher: Batcher
) -> bool:
    """Every ``every_n_frames``-th frame of a video; False when it cannot be read."""
    try:
        frames, fps, total = fd.video_frames(path, cfg.every_n_frames)
    except OSError as error:
        log.warning("%s: not a readable video (%s), skipped", name, error)
        return False
    source = Source(name, "video", relative, fps=max(1.0, fps / cfg.every_n_frames))
    bar = tqdm(total=total or None, unit="frame", leave=False, disable=None, desc=name)
    sampled = 0
    for index, frame in frames:
        photo = reader.faces(frame)
        image = frame if cfg.annotate else None
        batcher.add(Picture(source, index, photo.boxes, image), photo.faces)
        sampled += 1
        bar.update(cfg.every_n_frames)
    bar.close()
    if not sampled:
        log.warning("%s: no frame could be decoded, skipped", name)
        return False
    batcher.add(Picture(source, None, [], None, last=True), [])  # its summary follows its frames
    return True


def predict_csv(path: Path, name: str, batcher: Batcher) -> None:
    """One prediction per row of a pixels CSV (the faces are FER2013 crops already)."""
    faces = read_fer_csv(path)
    labels = faces.labels if faces.has_labels else None
    source = Source(name, "csv", Path(path.name), labels=labels)
    box = (0, 0, IMAGE_SIZE, IMAGE_SIZE)
    for row, image in enumerate(faces.images):
        batcher.add(Picture(source, row, [box], None), image[None])
    batcher.add(Picture(source, None, [], None, last=True), [])


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        predict(cfg)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
