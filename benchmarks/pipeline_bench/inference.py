"""Inference speed: faces/s of the model through PyTorch and ONNX Runtime, and photos/s of
``EmotionRecognizer.predict`` end to end, measured side by side in one process.

Every row takes the same input, uint8 48x48 face crops (or a whole photo), and gives the same
output, averaged probabilities over the run's evaluation views, so the rows compare what a user
gets. Rows alternate round by round and each keeps its median, so a slow spell of a shared
machine falls on all of them rather than on one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_bench.clock import say
from pipeline_bench.plan import Plan
from pipeline_bench.timed_model import load_recognizer, network_name

BATCHES = (1, 256)
PHOTO_SIZE = (640, 480)  # width, height
WARMUP_CALLS = 3  # oneDNN and ONNX Runtime build their kernels per shape on first use


def rounds_and_seconds(quick: bool) -> tuple[int, float]:
    """Timed rounds per row, and the seconds each row runs in a round."""
    return (2, 0.75) if quick else (3, 1.5)


def items_per_second(call: Callable[[], int], seconds: float) -> float:
    """Items per second of ``call`` (it returns how many it did) over at least ``seconds``."""
    for _ in range(WARMUP_CALLS):
        call()
    items, start = 0, time.perf_counter()
    while True:
        items += call()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return items / elapsed


def test_photo() -> np.ndarray:
    """A 640x480 RGB photo with one face: scikit-image's astronaut, enlarged and cropped."""
    import cv2
    from skimage import data

    width, height = PHOTO_SIZE
    square = cv2.resize(data.astronaut(), (width, width), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(square[:height])  # her face is in the upper half


def normalized(faces: np.ndarray, config: Any) -> np.ndarray:
    """uint8 faces [N, 48, 48] -> the exported model's input: (x / 255 - mean) / std, NCHW."""
    x = (faces.astype(np.float32) / 255 - float(config.data.mean)) / float(config.data.std)
    return np.repeat(x[:, None], int(config.data.channels), axis=1)


def onnx_session(rec: Any, folder: Path) -> tuple[Any, str]:
    """The model exported by the project's ONNX path (views inside), in ONNX Runtime."""
    from importlib.resources import files

    import onnxruntime as ort
    from omegaconf import OmegaConf

    from fer_lightning.inference.exporting import (
        ExportedClassifier,
        check_faces,
        description,
        export_onnx,
    )

    classifier = rec.classifier
    opset = OmegaConf.load(str(files("fer_lightning.conf") / "export.yaml")).opset  # export's
    model = ExportedClassifier(classifier.net, classifier.augmentation).eval()
    meta = description(classifier, rec.name, classifier.augmentation.tta)
    _, example, _ = check_faces(classifier, 8)
    path = folder / "model.onnx"
    export_onnx(model, example, path, meta, int(opset))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, session.get_inputs()[0].name


def precision_run(
    rec: Any, precision: str, folded: bool = True
) -> Callable[[np.ndarray], np.ndarray]:
    """``rec.classify`` with the Classifier's ``precision`` set for the call; ``folded=False``
    runs the network with its batch norms (a diagnostic: what folding them is worth)."""
    classifier = rec.classifier

    def run(batch: np.ndarray) -> np.ndarray:
        saved = classifier.precision, classifier.fast_net
        classifier.precision = precision
        if not folded:
            classifier.fast_net = classifier.net
        try:
            return rec.classify(batch)
        finally:
            classifier.precision, classifier.fast_net = saved

    return run


def classify_calls(rec: Any, faces: np.ndarray, folder: Path) -> tuple[dict[str, Any], float]:
    """The faces/s rows, (engine, batch) -> a call; and ONNX's largest gap to PyTorch fp32."""
    from fer_lightning.runs.machine import native_bf16_cpu

    session, input_name = onnx_session(rec, folder)
    config = rec.classifier.config

    def onnx(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: normalized(batch, config)})[0]

    # Emulated bf16 gains nothing (training/precision.py): its rows only where it is native.
    native = native_bf16_cpu() is not None
    engines: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "PyTorch fp32": precision_run(rec, "32")
    }
    if native:
        engines["PyTorch bf16"] = precision_run(rec, "bf16")
    engines["ONNX Runtime fp32"] = onnx
    engines["fp32 unfolded"] = precision_run(rec, "32", folded=False)
    if native:
        engines["bf16 unfolded"] = precision_run(rec, "bf16", folded=False)
    gap = float(np.abs(onnx(faces) - engines["PyTorch fp32"](faces)).max())
    calls = {
        (engine, n): (lambda f=run, b=faces[:n]: len(f(b)))
        for engine, run in engines.items()
        for n in BATCHES
    }
    return calls, gap


class TimedDetector:
    """The recognizer's face detector, with the seconds it spends counted."""

    def __init__(self, detector: Any) -> None:
        self.detector, self.seconds = detector, 0.0

    def __call__(self, gray: np.ndarray) -> Any:
        start = time.perf_counter()
        try:
            return self.detector(gray)
        finally:
            self.seconds += time.perf_counter() - start


def photo_rate(rec: Any, photo: Any, seconds: float) -> dict[str, float]:
    """Photos/s of ``rec.predict(photo)``, and the shares of detection and of the network."""
    detector = rec.reader.local.detector
    for _ in range(WARMUP_CALLS):
        rec.predict(photo)
    detector.seconds, network_s = 0.0, rec.classifier.seconds
    photos, start = 0, time.perf_counter()
    while True:
        rec.predict(photo)
        photos += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return {
        "rate": photos / elapsed,
        "detection": detector.seconds / elapsed,
        "network": (rec.classifier.seconds - network_s) / elapsed,
    }


def worker_inference(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """Every inference row, alternating round by round; medians, the model and the versions."""
    import cv2
    import onnxruntime
    import torch

    rounds, seconds = rounds_and_seconds(args.quick)
    with tempfile.TemporaryDirectory(prefix="fer_bench_inference_") as tmp_name:
        tmp = Path(tmp_name)
        rec, described = load_recognizer(tmp)
        faces = np.random.default_rng(0).integers(0, 256, (max(BATCHES), 48, 48), np.uint8)
        calls, onnx_gap = classify_calls(rec, faces, tmp)
        photo = test_photo()
        found = rec.predict(photo)
        jpeg = tmp / "photo.jpg"
        cv2.imwrite(str(jpeg), np.ascontiguousarray(photo[..., ::-1]))
        rec.reader.local.detector = TimedDetector(rec.reader.detector())
        photos = {"RGB array": photo, "JPEG file": jpeg}
        face_rates: dict[str, list[float]] = {f"{e} {n}": [] for e, n in calls}
        photo_rounds: dict[str, list[dict[str, float]]] = {k: [] for k in photos}
        for r in range(rounds):
            say(f"[inference] round {r + 1}/{rounds}")
            for (engine, n), call in calls.items():
                face_rates[f"{engine} {n}"].append(items_per_second(call, seconds))
            for kind, image in photos.items():
                photo_rounds[kind].append(photo_rate(rec, image, seconds))
    views = rec.classifier.inputs(faces[:1])
    return {
        "precision": rec.classifier.precision,
        "model": described,
        "network": network_name(rec),
        "views": int(views.shape[1]) if views.ndim == 5 else 1,
        "view_size": int(views.shape[-1]),
        "faces_found": len(found),
        "onnx_max_gap": onnx_gap,
        "faces": {k: statistics.median(v) for k, v in face_rates.items()},
        "face_rounds": face_rates,
        "photos": {k: median_round(v) for k, v in photo_rounds.items()},
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "torch_threads": torch.get_num_threads(),
        "rounds": rounds,
        "seconds": seconds,
    }


def median_round(measured: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median rate, its shares kept with it."""
    return sorted(measured, key=lambda m: m["rate"])[len(measured) // 2]
