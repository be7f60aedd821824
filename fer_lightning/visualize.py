"""`python -m fer_lightning.visualize image=face.png`: what a trained network sees.

The model is the shipped ``ferplus`` (``pretrained=fer2013`` the other) unless ``ckpt_path=``
names a checkpoint; either brings the network and its run's preprocessing. The image (any size
or colour) becomes a 48x48 gray face as in FER2013. Written to the run folder: one picture per
conv stage (``activations_<stage>.png``: the input and the stage's feature maps), the first
layer's filters (``filters.png``) and the predicted probabilities per emotion
(``probabilities.png``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError

from fer_lightning.cli import command
from fer_lightning.data.labels import IMAGE_SIZE
from fer_lightning.errors import UserError
from fer_lightning.inference.argv_checks import check_run_folder, no_device_option
from fer_lightning.inference.chosen_model import describe, load_chosen, model_name
from fer_lightning.inference.face_detection import smaller_than_a_face
from fer_lightning.inference.writable import run_folder_error
from fer_lightning.pixel_limit import open_image
from fer_lightning.plots.activations import stage_pictures
from fer_lightning.plots.files import render, save_image
from fer_lightning.plots.predictions import probabilities_figure

log = logging.getLogger("fer_lightning")


def load_face(path: str | Path, size: int = IMAGE_SIZE) -> np.ndarray:
    """Any image file as a uint8 [size, size] gray face (the whole image, resized).

    An image above the pixel limit is refused before decoding; one smaller than a face gets
    predict's warning (its prediction says little).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: no such image file (image=PATH of a face picture)")
    try:
        with open_image(path) as image:
            smaller_than_a_face(path.name, *image.size)
            gray = image.convert("L").resize((size, size), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable image ({type(error).__name__})") from None
    return np.array(gray, dtype=np.uint8)  # a writable copy, as torch wants


def visualize(cfg: DictConfig) -> Path:
    """Write the pictures of what the model sees in ``cfg.image``; returns the folder."""
    if not cfg.get("image"):
        raise UserError("no image given: image=PATH of a face picture (any size or colour)")
    face = load_face(cfg.image)
    classifier = load_chosen(cfg, "cpu")
    log.info(describe(classifier))
    probs = torch.from_numpy(classifier(face[None])[0])
    names = list(classifier.class_names)
    best = int(probs.argmax())
    x = classifier.inputs(face[None], classifier.augmentation.single_view())
    _, pictures = stage_pictures(
        classifier.net,
        x,
        [names[best]],
        cfg.get("max_channels"),
        wrap=True,
        note=Path(cfg.image).name,
    )
    output_dir = Path(cfg.paths.output_dir)
    title = f"{Path(cfg.image).name}: {names[best]} ({probs[best]:.0%})"
    chart = render(probabilities_figure(face, probs, names, title))
    try:
        for name, image in pictures.items():
            file = "filters.png" if name == "filters" else f"activations_{name}.png"
            save_image(image, output_dir / file)
        save_image(chart, output_dir / "probabilities.png")
    except OSError as error:
        raise run_folder_error(output_dir, error) from None
    log.info(
        "Predicted %s (%.1f%%) for %s with %s",
        names[best],
        100 * float(probs[best]),
        cfg.image,
        model_name(classifier),
    )
    log.info("Wrote %d pictures to %s", len(pictures) + 1, output_dir)
    return output_dir


main = command("visualize", checks=(no_device_option("visualize"), check_run_folder))(visualize)

if __name__ == "__main__":
    main()
