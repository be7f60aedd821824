"""Prediction on images too small to hold a face: a warning and an empty row, not a guess."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fer_lightning.data.labels import EMOTIONS
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.inference import face_detection as fd
from fer_lightning.visualize import visualize
from tests.helpers.configs import compose_train
from tests.helpers.inference import run_predict

pytestmark = pytest.mark.e2e  # every test here trains or runs a command


@pytest.mark.parametrize("detect", ["auto", "never"])
def test_an_image_smaller_than_a_face_gets_a_warning_and_an_empty_row(
    tiny_run, tmp_path, caplog, detect
):
    photos = tmp_path / "tiny"
    photos.mkdir()
    fd.write_image(photos / "dot.png", np.full((1, 1), 128, dtype=np.uint8))
    fd.write_image(photos / "small.png", np.full((23, 23), 128, dtype=np.uint8))
    fd.write_image(photos / "ok.png", generate_faces(1, seed=3)[0][0])
    caplog.set_level(logging.INFO, logger="fer_lightning")
    _, rows = run_predict(tiny_run.last, tmp_path, f"input={photos}", f"detect={detect}")
    by_file = {r["file"]: r for r in rows}
    assert by_file["dot.png"]["emotion"] == by_file["small.png"]["emotion"] == ""
    assert by_file["ok.png"]["emotion"] in EMOTIONS
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("dot.png: 1x1 px is smaller than a face") for m in warnings)


@pytest.mark.parametrize("size", [(1, 1), (500, 10)])
def test_visualize_gives_predicts_warning_on_an_image_smaller_than_a_face(
    tiny_run, tmp_path, caplog, size
):
    image = tmp_path / "dot.png"
    fd.write_image(image, np.full(size, 128, dtype=np.uint8))
    caplog.set_level(logging.INFO, logger="fer_lightning")
    visualize(
        compose_train([f"ckpt_path={tiny_run.last}", f"image={image}"], tmp_path, "visualize")
    )
    height, width = size
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        m.startswith(f"dot.png: {width}x{height} px is smaller than a face") for m in warnings
    )
