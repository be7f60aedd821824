"""A standalone model file: the network with its run's views inside, its description as JSON.

See ``fer_lightning.export`` for what the file takes and returns. ONNX uses torch's
TorchScript-based exporter (``dynamo=False``): it needs only the ``onnx`` package, while the
dynamo exporter (torch's default since 2.9) needs onnxscript.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import fer_lightning
from fer_lightning.data.augment import Augmentation, eval_views
from fer_lightning.data.labels import IMAGE_SIZE
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.errors import UserError
from fer_lightning.inference.chosen_model import card_figures, model_name, shipped_name
from fer_lightning.inference.classifier import Classifier
from fer_lightning.models.averaging import average_probabilities

log = logging.getLogger("fer_lightning")

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT_NAME, OUTPUT_NAME = "faces", "probabilities"
METADATA_FILE = "fer_lightning.json"


class ExportedClassifier(nn.Module):
    """Whole normalized faces [N, C, S, S] -> probabilities [N, classes], views inside.

    The same views as the run's evaluation (``eval_views``: centre crop, ten crops, hflip, TTA
    ten-crop), averaged as everywhere else (``average_probabilities``).
    """

    def __init__(self, net: nn.Module, augmentation: Augmentation, face_size: int = IMAGE_SIZE):
        super().__init__()
        self.net = net
        self.eval_crop, self.crop_size = augmentation.eval_crop, augmentation.crop_size
        self.tta, self.face_size = augmentation.tta, face_size

    def forward(self, x: Tensor) -> Tensor:
        views = eval_views(x, self.face_size, self.eval_crop, self.crop_size, self.tta)
        x = views[0] if len(views) == 1 else torch.stack(views, dim=1)
        return average_probabilities(self.net, x)


def description(classifier: Classifier, ckpt_path: str, tta: str) -> dict[str, Any]:
    """What a user of the exported file needs to feed it and read its output, and whence it is.

    A shipped model is named (``pretrained``) with its card's figures (``card``); a checkpoint
    by its path.
    """
    config = classifier.config
    data = config.data
    views = classifier.augmentation
    channels = int(data.channels)
    shipped = shipped_name(classifier)
    return {
        "producer": f"fer_lightning {fer_lightning.__version__}",
        "source": model_name(classifier),
        "checkpoint": None if shipped else str(ckpt_path),
        "pretrained": shipped,
        "card": card_figures(shipped) if shipped else None,
        "model": str(config.model.get("_target_", "")),
        "input_name": INPUT_NAME,
        "input_shape": ["N", channels, IMAGE_SIZE, IMAGE_SIZE],
        "input_dtype": "float32",
        "preprocessing": (
            f"a {IMAGE_SIZE}x{IMAGE_SIZE} gray face (uint8) -> x / 255 -> the gray channel "
            f"replicated to {channels} channel(s) -> (x - mean) / std, as NCHW float32"
        ),
        "mean": float(data.mean),
        "std": float(data.std),
        "channels": channels,
        "face_size": IMAGE_SIZE,
        "face_crop": (
            "as fer-predict: OpenCV's haarcascade_frontalface_default box grown by 20% of its "
            "size on each side (clipped), gray, resized to 48x48 with INTER_AREA"
        ),
        "output_name": OUTPUT_NAME,
        "output": "softmax probabilities [N, classes] (rows sum to 1), in the order of classes",
        "classes": list(classifier.class_names),
        "eval_crop": views.eval_crop,
        "crop_size": views.crop_size if views.eval_crop else None,
        "tta": tta,
        "views": (
            "inside the model: it takes whole 48x48 faces; the run's evaluation crop and the "
            "test-time augmentation average the softmax of their views"
        ),
    }


def check_faces(classifier: Classifier, n: int) -> tuple[np.ndarray, Tensor, np.ndarray]:
    """-> (uint8 synthetic faces, their exported-model input, the PyTorch model's probs)."""
    faces, _ = generate_faces(n, seed=0)
    reference = classifier(faces)
    x = classifier.inputs(faces, Augmentation())  # whole normalized faces: the exported input
    return faces, x.contiguous().float(), reference


def export_torchscript(
    model: nn.Module, example: Tensor, path: Path, meta: dict[str, Any]
) -> np.ndarray | None:
    """Trace, save with the metadata; returns the reloaded file's output on ``example``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notices: nothing to act on
        traced = torch.jit.trace(model, example[:2], check_trace=False)
        torch.jit.save(traced, str(path), _extra_files={METADATA_FILE: json.dumps(meta)})
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        return loaded(example).numpy()


def export_onnx(
    model: nn.Module, example: Tensor, path: Path, meta: dict[str, Any], opset: int
) -> np.ndarray | None:
    """Export with the TorchScript-based exporter, add the metadata; run it in onnxruntime."""
    try:
        import onnx
    except ImportError:
        raise UserError("format=onnx needs the onnx package: pip install onnx") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            model,
            (example[:2],),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}},
            opset_version=opset,
        )
    proto = onnx.load(str(path))
    proto.doc_string = (
        f"fer_lightning facial emotion classifier ({meta['source']}). Input {INPUT_NAME}: float32 "
        f"[N, {meta['channels']}, {IMAGE_SIZE}, {IMAGE_SIZE}], {meta['preprocessing']}, mean "
        f"{meta['mean']}, std {meta['std']}. Output {OUTPUT_NAME}: {meta['output']}: "
        f"{', '.join(meta['classes'])}."
    )
    flat = {
        METADATA_FILE: json.dumps(meta),
        "source": meta["source"],
        "classes": ",".join(meta["classes"]),
        "input": f"{INPUT_NAME} float32 [N, {meta['channels']}, {IMAGE_SIZE}, {IMAGE_SIZE}]",
        "normalization": f"(x / 255 - {meta['mean']}) / {meta['std']}",
        "output": f"{OUTPUT_NAME}: {meta['output']}",
    }
    card = meta.get("card") or {}
    if card.get("accuracy") is not None:
        flat["test_accuracy"] = f"{card['accuracy']} on {card['data']} {card['split']}"
    for key, value in flat.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning(
            "the ONNX file is not checked: onnxruntime is not installed (pip install onnxruntime)"
        )
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: example.numpy()})[0]
