"""`python -m fer_lightning.predict input=PATH` (`fer-predict`): the emotions of faces in photos.

The model is the shipped ``ferplus`` (``pretrained=fer2013`` the other, ``fer_lightning.zoo``)
unless ``ckpt_path=`` names a checkpoint of a run of yours (or a list: an ensemble).

``input`` is an image, a folder of images (searched recursively; videos in it count too), a video
(every ``every_n_frames``-th frame) or a FER2013-style pixels CSV (one prediction per row, no
detection). Faces are found with OpenCV's Haar cascade, cropped with a ``margin``, made 48x48
gray, and preprocessed by the data module of the model's run, so the network sees exactly what it
saw in evaluation (``tta`` adds test-time augmentation). Faces of many pictures share the
network's batches. Written to the run folder: ``predictions.csv`` (one row per face, naming the
model; a picture with no face gets a row with an empty emotion; a video's rows carry the frame's
time in seconds and the face's track id, faces followed across frames by box overlap),
``video_summary.csv`` (per video and track: the share of time in each emotion),
``predictions.jsonl`` (``jsonl=true``) and ``annotated/`` copies with a box and "happy 0.87"
per face (``annotate=true``). A file that cannot be read, or a photo above the pixel limit
(``FER_MAX_PIXELS``, checked before decoding), is one warning and skipped; the other files are
still predicted.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from fer_lightning.cli import command
from fer_lightning.errors import DataError, UserError
from fer_lightning.inference import face_detection as fd
from fer_lightning.inference.argv_checks import check_run_folder
from fer_lightning.inference.batching import Batcher
from fer_lightning.inference.chosen_model import describe, load_chosen, model_name
from fer_lightning.inference.classifier import pick_device
from fer_lightning.inference.photos import PhotoReader, collect_inputs, input_kind
from fer_lightning.inference.prediction import feed
from fer_lightning.inference.prediction_files import Outputs
from fer_lightning.inference.writable import run_folder_error

log = logging.getLogger("fer_lightning")


def check_options(cfg: DictConfig) -> None:
    if cfg.detect not in fd.DETECT_MODES:
        raise UserError(f"detect={cfg.detect!r} is unknown: use {', '.join(fd.DETECT_MODES)}")
    for key, minimum in (("every_n_frames", 1), ("batch_size", 1), ("min_face", 1)):
        if not isinstance(cfg[key], int) or cfg[key] < minimum:
            raise UserError(f"{key}={cfg[key]!r} must be an integer >= {minimum}")
    if not isinstance(cfg.margin, int | float) or cfg.margin < 0:
        raise UserError(f"margin={cfg.margin!r} must be a number >= 0 (e.g. 0.2)")
    pick_device(cfg.device)  # a device that is not there: one line before the checkpoint loads


def predict(cfg: DictConfig) -> Path:
    """Predict the emotions of the faces in ``cfg.input``; returns the run folder."""
    check_options(cfg)
    inputs, folder = collect_inputs(cfg.get("input"))
    if any(input_kind(p) != "csv" for p, _ in inputs):
        fd.require_opencv()
    classifier = load_chosen(cfg, cfg.device, cfg.tta)
    log.info(describe(classifier))
    output_dir = Path(cfg.paths.output_dir)
    try:
        outputs = Outputs(
            output_dir, classifier.class_names, cfg.jsonl, cfg.annotate, model_name(classifier)
        )
    except OSError as error:
        raise run_folder_error(output_dir, error) from None
    batcher = Batcher(classifier, cfg.batch_size, outputs)
    reader = PhotoReader(cfg.detect, float(cfg.margin), int(cfg.min_face))
    start = time.perf_counter()
    try:
        skipped = feed(inputs, folder, reader, batcher, cfg.every_n_frames, cfg.annotate)
    finally:
        outputs.close()
    seconds = time.perf_counter() - start
    if not outputs.files:
        first = f": {skipped[0]}" if skipped else ""
        raise DataError(
            f"{cfg.input}: nothing could be read ({len(skipped)} unreadable file(s)){first}"
        )
    log.info(
        "%d face(s) from %d file(s)%s in %.1f s: %.1f faces/s (network alone %.0f faces/s on %s)",
        outputs.faces,
        outputs.files,
        f", {len(skipped)} skipped" if skipped else "",
        seconds,
        outputs.faces / max(seconds, 1e-9),
        outputs.faces / max(classifier.seconds, 1e-9),
        classifier.device,
    )
    log.info("Predictions in %s", output_dir / "predictions.csv")
    if outputs.summaries.file is not None:
        log.info("Time per emotion of each face of the videos in %s", outputs.summaries.path)
    return output_dir


main = command("predict", checks=(check_run_folder,))(predict)

if __name__ == "__main__":
    main()
