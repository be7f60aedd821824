"""`python -m fer_lightning.export ckpt_path=PATH format=onnx|torchscript` (`fer-export`).

Writes a standalone model file that needs neither this project nor its config: the network of
a checkpoint with its run's evaluation crop (centre crop, or the softmax average of the ten
crops of a ten-crop model) and optional test-time augmentation built in, so every exported
model takes the same input, whole preprocessed 48x48 faces, and returns softmax probabilities:

    input   "faces"          float32 [N, C, 48, 48], N dynamic
            a 48x48 gray face (uint8) -> x / 255 -> replicated to C channels -> (x - mean) / std
    output  "probabilities"  float32 [N, classes], in the checkpoint's class order

The file carries this description as JSON (ONNX: ``metadata_props``; TorchScript: the extra
file ``fer_lightning.json``) with mean, std, channels and class names. After writing, the file
is loaded back and run on synthetic faces; it must agree with the PyTorch model within
``tolerance``. ONNX uses torch's TorchScript-based exporter (``dynamo=False``): it needs only
the ``onnx`` package, while the dynamo exporter (torch's default since 2.9) needs onnxscript.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

import fer_lightning
from fer_lightning.augment import TTA, Augmentation
from fer_lightning.data.labels import IMAGE_SIZE
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.errors import UserError
from fer_lightning.predict import FaceClassifier
from fer_lightning.train import register_resolvers

log = logging.getLogger("fer_lightning")
register_resolvers()

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT_NAME, OUTPUT_NAME = "faces", "probabilities"
METADATA_FILE = "fer_lightning.json"


class ExportedClassifier(nn.Module):
    """Whole normalized faces [N, C, S, S] -> probabilities [N, classes], views inside.

    The same views as ``Augmentation.eval`` (centre crop, ten crops, hflip, TTA ten-crop), cut
    with offsets computed here as Python ints: exporters trace tensor shapes, which
    torchvision's crop functions cannot round. Views share one batch through the network.
    """

    def __init__(
        self,
        net: nn.Module,
        eval_crop: str | None = None,
        crop_size: int = 40,
        tta: str = "none",
        face_size: int = IMAGE_SIZE,
    ) -> None:
        super().__init__()
        if tta not in TTA:
            raise UserError(f"tta={tta!r} is unknown: use one of {', '.join(TTA)}")
        self.net = net
        self.eval_crop, self.crop_size, self.tta, self.face_size = (
            eval_crop,
            crop_size,
            tta,
            face_size,
        )

    def five_crops(self, x: Tensor, size: int) -> list[Tensor]:
        """torchvision's five_crop order: the four corners, then the centre."""
        c = self.crop_size
        top = left = round((size - c) / 2.0)
        return [
            x[..., :c, :c],
            x[..., :c, size - c :],
            x[..., size - c :, :c],
            x[..., size - c :, size - c :],
            x[..., top : top + c, left : left + c],
        ]

    def views(self, x: Tensor) -> list[Tensor]:
        size = self.face_size
        if self.eval_crop == "ten":
            return self.five_crops(x, size) + self.five_crops(x.flip(-1), size)
        if self.eval_crop == "center":
            x = self.five_crops(x, size)[-1]
            size = self.crop_size
        if self.tta == "hflip":
            return [x, x.flip(-1)]
        if self.tta == "tencrop":
            crops = self.five_crops(x, size) + self.five_crops(x.flip(-1), size)
            if size != self.crop_size:
                # Upsampling: bilinear with and without antialias are the same function.
                crops = [
                    F.interpolate(v, size=(size, size), mode="bilinear", align_corners=False)
                    for v in crops
                ]
            return crops
        return [x]

    def forward(self, x: Tensor) -> Tensor:
        views = self.views(x)
        if len(views) == 1:
            return self.net(views[0]).softmax(dim=-1)
        probs = self.net(torch.cat(views, dim=0)).softmax(dim=-1)
        return probs.unflatten(0, (len(views), -1)).mean(dim=0)


def description(classifier: FaceClassifier, ckpt_path: str, tta: str) -> dict[str, Any]:
    """What a user of the exported file needs to feed it and read its output."""
    config = classifier.config
    data = config.data
    crop = (config.get("aug") or {}).get("crop") or {}
    channels = int(data.channels)
    return {
        "producer": f"fer_lightning {fer_lightning.__version__}",
        "checkpoint": str(ckpt_path),
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
        "eval_crop": crop.get("eval"),
        "crop_size": crop.get("size"),
        "tta": tta,
        "views": (
            "inside the model: it takes whole 48x48 faces; the run's evaluation crop and the "
            "test-time augmentation average the softmax of their views"
        ),
    }


def check_faces(classifier: FaceClassifier, n: int) -> tuple[np.ndarray, Tensor, np.ndarray]:
    """-> (uint8 synthetic faces, their exported-model input, the PyTorch model's probs)."""
    faces, _ = generate_faces(n, seed=0)
    reference = classifier(faces)
    module = classifier.datamodule
    views = module.augmentation
    module.augmentation = Augmentation()  # whole normalized faces: the exported input
    try:
        labels = torch.zeros(n, dtype=torch.int64)
        x, _, _ = module.preprocess(torch.from_numpy(faces), labels, train=False)
    finally:
        module.augmentation = views
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
        f"fer_lightning facial emotion classifier. Input {INPUT_NAME}: float32 "
        f"[N, {meta['channels']}, {IMAGE_SIZE}, {IMAGE_SIZE}], {meta['preprocessing']}, mean "
        f"{meta['mean']}, std {meta['std']}. Output {OUTPUT_NAME}: {meta['output']}: "
        f"{', '.join(meta['classes'])}."
    )
    flat = {
        METADATA_FILE: json.dumps(meta),
        "classes": ",".join(meta["classes"]),
        "input": f"{INPUT_NAME} float32 [N, {meta['channels']}, {IMAGE_SIZE}, {IMAGE_SIZE}]",
        "normalization": f"(x / 255 - {meta['mean']}) / {meta['std']}",
        "output": f"{OUTPUT_NAME}: {meta['output']}",
    }
    for key, value in flat.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning("%s: not checked, onnxruntime is not installed (pip install onnxruntime)", path)
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: example.numpy()})[0]


def export(cfg: DictConfig) -> Path:
    """Write the checkpoint's model as ``cfg.format``, check it; returns the file."""
    if not cfg.get("ckpt_path"):
        raise UserError("no checkpoint given: ckpt_path=<run folder>/checkpoints/last.ckpt")
    if cfg.format not in FORMATS:
        raise UserError(f"format={cfg.format!r} is unknown: use {' or '.join(FORMATS)}")
    if cfg.check_faces < 1:
        raise UserError(f"check_faces={cfg.check_faces} must be at least 1")
    classifier = FaceClassifier(cfg.ckpt_path, tta=cfg.tta, device="cpu")
    crop = (classifier.config.get("aug") or {}).get("crop") or {}
    model = ExportedClassifier(
        classifier.net, crop.get("eval"), crop.get("size", 40), cfg.tta, IMAGE_SIZE
    ).eval()
    output = cfg.get("output") or Path(cfg.paths.output_dir) / f"model{FORMATS[cfg.format]}"
    path = Path(str(output)).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = description(classifier, cfg.ckpt_path, cfg.tta)
    _, x, reference = check_faces(classifier, cfg.check_faces)
    if cfg.format == "onnx":
        exported = export_onnx(model, x, path, meta, cfg.opset)
    else:
        exported = export_torchscript(model, x, path, meta)
    log.info("Wrote %s (%s, input %s %s)", path, cfg.format, INPUT_NAME, meta["input_shape"])
    if exported is None:
        return path
    diff = float(np.abs(exported - reference).max())
    log.info(
        "Exported vs PyTorch model on %d synthetic faces: max abs difference %.2e",
        len(x),
        diff,
    )
    if not diff <= cfg.tolerance:
        raise UserError(
            f"{path}: the exported model differs from the PyTorch model by {diff:.2e} "
            f"(> tolerance={cfg.tolerance}); the file is kept for inspection"
        )
    return path


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    try:
        export(cfg)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
