"""`python -m fer_lightning.export format=onnx|torchscript|zoo` (`fer-export`).

The model is the shipped ``ferplus`` (``pretrained=fer2013`` the other) unless ``ckpt_path=``
names a checkpoint. ``format=zoo name=NAME ckpt_path=<run>/checkpoints/<best>.ckpt [out=DIR]``
makes a zoo entry of the run instead (``fer_lightning.inference.zoo_entry``).

onnx and torchscript write a standalone model file that needs neither this project nor its
config: the network with its run's evaluation crop (centre crop, or the softmax average of the
ten crops of a ten-crop model) and optional test-time augmentation built in, so every exported
model takes the same input, whole preprocessed 48x48 faces, and returns softmax probabilities:

    input   "faces"          float32 [N, C, 48, 48], N dynamic
            a 48x48 gray face (uint8) -> x / 255 -> replicated to C channels -> (x - mean) / std
    output  "probabilities"  float32 [N, classes], in the checkpoint's class order

The file carries this description as JSON (ONNX: ``metadata_props``; TorchScript: the extra
file ``fer_lightning.json``) with mean, std, channels, class names and the model it came from
(a shipped model's name and its card's figures, or the checkpoint's path). After writing, the
file is loaded back and run on synthetic faces; it must agree with the PyTorch model within
``tolerance``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from fer_lightning.cli import command
from fer_lightning.errors import UserError
from fer_lightning.inference.argv_checks import check_run_folder, no_device_option
from fer_lightning.inference.chosen_model import describe, load_chosen
from fer_lightning.inference.exporting import (
    FORMATS,
    INPUT_NAME,
    ExportedClassifier,
    check_faces,
    description,
    export_onnx,
    export_torchscript,
)
from fer_lightning.inference.writable import RUN_FOLDER_FIX, check_file_target, replacing
from fer_lightning.inference.zoo_entry import export_zoo

log = logging.getLogger("fer_lightning")


def export(cfg: DictConfig) -> Path:
    """Write the model as ``cfg.format``, check it; returns the file (a zoo entry's card)."""
    if cfg.format == "zoo":
        if cfg.get("output"):
            raise UserError(
                f"output={cfg.output}: format=zoo writes <name>.safetensors and <name>.json into "
                "a folder: out=DIR (or no out: the package's zoo)"
            )
        return export_zoo(cfg.get("ckpt_path"), cfg.get("name"), cfg.get("out"))
    if cfg.format not in FORMATS:
        raise UserError(f"format={cfg.format!r} is unknown: use {', '.join(FORMATS)} or zoo")
    for key in ("name", "out"):
        if cfg.get(key):
            raise UserError(
                f"{key}={cfg[key]}: only format=zoo takes name= and out=; the file of "
                f"format={cfg.format} is output=PATH"
            )
    if cfg.check_faces < 1:
        raise UserError(f"check_faces={cfg.check_faces} must be at least 1")
    name = f"model{FORMATS[cfg.format]}"
    if cfg.get("output"):
        path = Path(str(cfg.output)).expanduser()
        where = f"output={cfg.output}"
        fix = "choose a place you can write with output=PATH"
        if path.is_dir():
            fix = f"name the file to write, e.g. output={path / name}"
    else:
        path = Path(cfg.paths.output_dir) / name
        where, fix = str(path.parent), RUN_FOLDER_FIX
    check_file_target(path, where, fix)  # before the work, not after it
    # fp32: the exported model is fp32, and its check compares it with these probabilities.
    classifier = load_chosen(cfg, "cpu", cfg.tta, precision="32")
    log.info(describe(classifier))
    model = ExportedClassifier(classifier.net, classifier.augmentation).eval()
    meta = description(classifier, cfg.ckpt_path, cfg.tta)
    _, x, reference = check_faces(classifier, cfg.check_faces)
    # Written beside the target, then renamed: a failed export leaves no partial model file.
    with replacing(path, where, fix) as partial:
        if cfg.format == "onnx":
            exported = export_onnx(model, x, partial, meta, cfg.opset)
        else:
            exported = export_torchscript(model, x, partial, meta)
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


main = command("export", checks=(no_device_option("export"), check_run_folder))(export)

if __name__ == "__main__":
    main()
