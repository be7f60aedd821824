"""`python -m fer_lightning.visualize ckpt_path=PATH image=face.png`: what a trained network sees.

The checkpoint rebuilds the model and its run's preprocessing; the image (any size or colour)
becomes a 48x48 gray face as in FER2013. Written to the run folder: one picture per conv stage
(``activations_<stage>.png``: the input and the stage's feature maps), the first layer's filters
(``filters.png``) and the predicted probabilities per emotion (``probabilities.png``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from fer_lightning.augment import Augmentation
from fer_lightning.callbacks.activations import prepare_faces, render, save_png, stage_pictures
from fer_lightning.checkpoints import load_classifier
from fer_lightning.errors import UserError
from fer_lightning.train import register_resolvers

log = logging.getLogger("fer_lightning")
register_resolvers()

FACE_SIZE = 48


def load_face(path: str | Path, size: int = FACE_SIZE) -> np.ndarray:
    """Any image file as a uint8 [size, size] gray face (the whole image, resized)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: no such image file (image=PATH of a face picture)")
    try:
        with Image.open(path) as image:
            gray = image.convert("L").resize((size, size), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable image ({type(error).__name__})") from None
    return np.array(gray, dtype=np.uint8)  # a writable copy, as torch wants


def probabilities(net: torch.nn.Module, face: np.ndarray, config: DictConfig) -> Tensor:
    """Softmax over the classes as the run's evaluation computes it (ten-crop: averaged)."""
    data = config.data
    x = prepare_faces(face[None], data.channels, data.mean, data.std)
    crop = (config.get("aug") or {}).get("crop") or {}
    views = Augmentation(eval_crop=crop.get("eval"), crop_size=crop.get("size", 40)).eval(x)
    with torch.no_grad():
        if views.ndim == 5:
            return net(views.flatten(0, 1)).softmax(dim=-1).mean(dim=0)
        return net(views)[0].softmax(dim=-1)


def probabilities_figure(
    face: np.ndarray, probs: Tensor, class_names: list[str], title: str
) -> Figure:
    """The face as the network got it, beside a bar per emotion (the prediction in colour)."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(7.5, 3.0), gridspec_kw={"width_ratios": [1, 2.2]}
    )
    left.imshow(face, cmap="gray", vmin=0, vmax=255)
    left.set_axis_off()
    left.set_title("input (48x48 gray)", fontsize=9)
    values = probs.numpy() * 100
    best = int(values.argmax())
    colours = ["tab:orange" if i == best else "tab:gray" for i in range(len(values))]
    y = np.arange(len(values))
    bars = right.barh(y, values, color=colours)
    right.bar_label(bars, fmt="%.1f%%", fontsize=8, padding=2)
    right.set_yticks(y, class_names)
    right.invert_yaxis()
    right.set_xlim(0, 115)
    right.set_xlabel("probability (%)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def visualize(cfg: DictConfig) -> Path:
    """Write the pictures for ``cfg.image`` under ``cfg.ckpt_path``; returns the folder."""
    if not cfg.get("ckpt_path"):
        raise UserError("no checkpoint given: ckpt_path=<run folder>/checkpoints/last.ckpt")
    if not cfg.get("image"):
        raise UserError("no image given: image=PATH of a face picture (any size or colour)")
    face = load_face(cfg.image)
    module, config = load_classifier(cfg.ckpt_path)
    net = module.net
    data = config.data
    input_size = config.model.get("input_size")
    x = prepare_faces(face[None], data.channels, data.mean, data.std, input_size)
    probs = probabilities(net, face, config)
    names = list(module.class_names)
    best = int(probs.argmax())
    _, pictures = stage_pictures(
        net, x, [names[best]], cfg.get("max_channels"), wrap=True, note=Path(cfg.image).name
    )
    output_dir = Path(cfg.paths.output_dir)
    for name, image in pictures.items():
        file = "filters.png" if name == "filters" else f"activations_{name}.png"
        save_png(image, output_dir / file)
    title = f"{Path(cfg.image).name}: {names[best]} ({probs[best]:.0%})"
    chart = render(probabilities_figure(face, probs, names, title))
    save_png(chart, output_dir / "probabilities.png")
    log.info("Predicted %s (%.1f%%) for %s", names[best], 100 * float(probs[best]), cfg.image)
    log.info("Wrote %d pictures to %s", len(pictures) + 1, output_dir)
    return output_dir


@hydra.main(version_base="1.3", config_path="conf", config_name="visualize")
def main(cfg: DictConfig) -> None:
    try:
        visualize(cfg)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
