"""Predict and visualize on hostile pictures and CSVs: refused in one line, or right words.

Decompression bombs are refused before decoding (one among many photos is skipped with its
reason, the others are predicted), and messages blame the right thing: predict's own fix for a
bad CSV row, no accuracy across two label sets. Outputs and devices: test_inference_outputs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.data.labels import EMOTIONS
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.errors import DataError
from fer_lightning.inference import face_detection as fd
from fer_lightning.pixel_limit import ENV
from fer_lightning.visualize import visualize
from tests.helpers.configs import compose_train
from tests.helpers.fer_csv import csv_text
from tests.helpers.ferplus import write_votes
from tests.helpers.inference import BOMB_SIDE, bomb_png, run_predict
from tests.helpers.runs import train_tiny

pytestmark = pytest.mark.e2e  # every test here trains or runs a command

pytest.importorskip("cv2", reason="photo prediction needs opencv-python-headless")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bomb_png(tmp_path_factory.mktemp("bomb") / "bomb.png", BOMB_SIDE)


@pytest.fixture(scope="module")
def ferplus_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model of FER+'s eight classes (two training steps, no test)."""
    tmp = tmp_path_factory.mktemp("ferplus")
    write_votes(tmp / "fer2013new.csv")
    votes = f"data.ferplus_path={tmp / 'fer2013new.csv'}"
    return train_tiny(tmp, "data.labels=ferplus", votes, "test=false").last


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# Decompression bombs: refused before decoding, in every image a command reads.


def test_visualize_refuses_a_bomb_before_decoding(tiny_run, tmp_path, bomb):
    cfg = compose_train([f"ckpt_path={tiny_run.last}", f"image={bomb}"], tmp_path, "visualize")
    with pytest.raises(DataError, match=rf"bomb\.png: 20000x20000 is .* pixels.*{ENV}=N"):
        visualize(cfg)


def test_the_pixel_limit_is_configurable_for_visualize(tiny_run, tmp_path, monkeypatch):
    face = tmp_path / "face.png"
    fd.write_image(face, generate_faces(1, seed=3)[0][0])
    monkeypatch.setenv(ENV, "1000")  # below a 48x48 face
    cfg = compose_train([f"ckpt_path={tiny_run.last}", f"image={face}"], tmp_path, "visualize")
    with pytest.raises(DataError, match=r"face\.png: 48x48 is 2,304 pixels, more than .*1,000"):
        visualize(cfg)


def test_predict_skips_a_bomb_among_good_photos_with_its_reason(
    tiny_run, tmp_path, caplog, monkeypatch
):
    photos = tmp_path / "photos"
    photos.mkdir()
    bomb_png(photos / "bomb.png", 3000)
    bomb_png(photos / "disguised.jpg", 3000)  # a PNG by content, named .jpg
    fd.write_image(photos / "ok.png", generate_faces(1, seed=3)[0][0])
    (photos / "broken.png").write_bytes(b"junk")
    caplog.set_level(logging.INFO, logger="fer_lightning")
    monkeypatch.setenv(ENV, "1000000")  # the 3000x3000 files are bombs under this limit
    _, rows = run_predict(tiny_run.last, tmp_path, f"input={photos}")
    assert [r["file"] for r in rows] == ["ok.png"]
    assert rows[0]["emotion"] in EMOTIONS
    warnings = warnings_of(caplog)
    for name in ("bomb.png", "disguised.jpg"):
        assert any(
            name in m and "3000x3000 is 9,000,000 pixels" in m and m.endswith("skipped")
            for m in warnings
        ), warnings
    assert "broken.png: not a readable image, skipped" in warnings
    assert any("3 skipped" in r.getMessage() for r in caplog.records)


def test_predict_on_a_single_bomb_is_one_line_with_its_reason(tiny_run, tmp_path, bomb):
    with pytest.raises(DataError, match=rf"nothing could be read.*20000x20000 is .*{ENV}=N"):
        run_predict(tiny_run.last, tmp_path, f"input={bomb}")


# Messages that blame the right thing.


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (lambda text: text.replace(" ", " x", 1), r"pixel 2 is 'x\d+', not an integer"),
        (lambda text: text.rsplit(" ", 1)[0], r"2303 pixel values"),
        (lambda text: "9" + text[1:], r"emotion '9' is not a label"),
    ],
)
def test_a_bad_csv_row_in_predict_gives_predicts_advice(
    tiny_run, tmp_path, write_csv, row, problem
):
    images, labels = generate_faces(3, seed=1)
    lines = csv_text(images, labels, None, columns=("emotion", "pixels")).splitlines()
    lines[2] = row(lines[2])
    path = write_csv("\n".join(lines) + "\n", "faces.csv")
    with pytest.raises(DataError, match=rf"faces\.csv: row 2 \(line 3\): {problem}") as error:
        run_predict(tiny_run.last, tmp_path, f"input={path}")
    message = str(error.value)
    assert "on_bad_rows" not in message and "data." not in message
    assert "fix or delete that row" in message


def test_a_ferplus_model_gives_no_accuracy_against_fer2013_labels(
    ferplus_ckpt, tmp_path, write_csv, caplog
):
    images, labels = generate_faces(12, seed=1)
    path = write_csv(csv_text(images, labels, None, columns=("emotion", "pixels")), "faces.csv")
    caplog.set_level(logging.INFO, logger="fer_lightning")
    _, rows = run_predict(ferplus_ckpt, tmp_path, f"input={path}")
    assert len(rows) == 12
    messages = [r.getMessage() for r in caplog.records]
    assert not any("accuracy 0" in m or "accuracy 1" in m for m in messages), messages
    (line,) = [m for m in warnings_of(caplog) if "accuracy" in m]
    assert "faces.csv: no accuracy: " in line
    assert "FER2013" in line and "neutral, happiness" in line


def test_a_fer2013_model_still_scores_its_labels_by_name(tiny_run, tmp_path, write_csv, caplog):
    images, labels = generate_faces(12, seed=1)
    path = write_csv(csv_text(images, labels, None, columns=("emotion", "pixels")), "faces.csv")
    caplog.set_level(logging.INFO, logger="fer_lightning")
    _, rows = run_predict(tiny_run.last, tmp_path, f"input={path}")
    predicted = np.array([EMOTIONS.index(r["emotion"]) for r in rows])
    expected = f"accuracy {(predicted == labels).mean():.4f} against its labels"
    assert any(expected in r.getMessage() for r in caplog.records)
