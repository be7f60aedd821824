"""Prediction on real photos, folders, videos and pixel CSVs with a trained checkpoint."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

cv2 = pytest.importorskip("cv2", reason="photo prediction needs opencv-python-headless")
skimage_data = pytest.importorskip("skimage.data", reason="the test photos come from scikit-image")

from fer_lightning.data.labels import EMOTIONS  # noqa: E402
from fer_lightning.data.synthetic import generate_faces  # noqa: E402
from fer_lightning.errors import UserError  # noqa: E402
from fer_lightning.inference import face_detection as fd  # noqa: E402
from fer_lightning.inference.batching import Batcher, Picture, Source  # noqa: E402
from fer_lightning.inference.classifier import load_classifier  # noqa: E402
from fer_lightning.predict import predict  # noqa: E402
from tests.helpers.commands import run_cli  # noqa: E402
from tests.helpers.configs import compose_train  # noqa: E402
from tests.helpers.fer_csv import csv_text  # noqa: E402
from tests.helpers.inference import run_predict  # noqa: E402

ASTRONAUT_FACE = (177, 66, 95, 95)


@pytest.fixture
def ckpt(tiny_run) -> Path:
    return tiny_run.last


def bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def assert_probabilities(row: dict[str, str]) -> None:
    probs = np.array([float(row[e]) for e in EMOTIONS])
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert row["emotion"] == EMOTIONS[int(probs.argmax())]
    assert float(row["confidence"]) == pytest.approx(probs.max())


def assert_near_astronaut_face(row: dict[str, str], tolerance: int = 4) -> None:
    box = [int(row[k]) for k in "xywh"]
    assert np.abs(np.array(box) - ASTRONAUT_FACE).max() <= tolerance, box


def test_detector_finds_the_astronaut_and_no_face_in_coffee():
    detector = fd.FaceDetector()
    (box,) = detector(fd.to_gray(bgr(skimage_data.astronaut())))
    assert np.abs(np.array(box) - ASTRONAUT_FACE).max() <= 3, box
    assert detector(fd.to_gray(bgr(skimage_data.coffee()))) == []


def test_crops_are_48x48_clipped_to_the_image_and_face_crops_are_recognized():
    gray = np.random.default_rng(0).integers(0, 256, (100, 80), dtype=np.uint8)
    face = fd.crop_face(gray, fd.Box(60, 10, 20, 20), margin=0.5)  # over the right edge
    assert face.shape == (48, 48) and face.dtype == np.uint8
    expected = cv2.resize(gray[0:40, 50:80], (48, 48), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(face, expected)
    with pytest.raises(UserError, match="margin"):
        fd.crop_face(gray, fd.Box(0, 0, 10, 10), margin=-0.1)
    assert fd.is_face_crop(np.zeros((48, 48, 3), np.uint8))
    assert fd.is_face_crop(np.zeros((64, 64), np.uint8))
    assert not fd.is_face_crop(np.full((64, 64, 3), (0, 0, 255), np.uint8))
    assert not fd.is_face_crop(np.zeros((64, 60), np.uint8))


def test_batcher_fills_batches_across_pictures_and_keeps_their_order():
    batches: list[int] = []

    def classify(faces: np.ndarray) -> np.ndarray:
        batches.append(len(faces))
        return np.tile(faces.reshape(len(faces), -1)[:, :1].astype(float), (1, 7))

    emitted: list[Picture] = []
    batcher = Batcher(classify, batch_size=3, emit=emitted.append)
    source = Source("x", "image", Path("x"))
    counts = [2, 0, 5, 1]
    for i, n in enumerate(counts):
        faces = np.full((n, 48, 48), i, dtype=np.uint8)
        batcher.add(Picture(source, i, [(0, 0, 1, 1)] * n, None), faces)
    batcher.flush()
    assert batches == [3, 3, 2]
    assert [p.frame for p in emitted] == [0, 1, 2, 3]
    for picture in emitted:
        assert [int(p[0]) for p in picture.probs] == [picture.frame] * len(picture.probs)
    # Pictures kept for annotation past max_bytes: a partial batch runs, the pictures leave.
    emitted.clear()
    batcher = Batcher(classify, batch_size=64, emit=emitted.append, max_bytes=1000)
    image = np.zeros((20, 20, 3), np.uint8)  # 1200 bytes
    batcher.add(Picture(source, 0, [(0, 0, 1, 1)], image), np.zeros((1, 48, 48), np.uint8))
    assert [p.frame for p in emitted] == [0] and batcher.held == 0


@pytest.mark.e2e
def test_folder_with_a_face_no_face_a_broken_file_and_a_face_crop(ckpt, tmp_path, caplog):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    astronaut = bgr(skimage_data.astronaut())
    fd.write_image(photos / "astronaut.png", astronaut)
    fd.write_image(photos / "coffee.jpg", bgr(skimage_data.coffee()))
    (photos / "broken.jpg").write_bytes(b"\x00 not a jpeg at all" * 10)
    fd.write_image(photos / "sub" / "face.png", generate_faces(1, seed=3)[0][0])
    (photos / "notes.txt").write_text("not an image, not looked at")
    caplog.set_level(logging.INFO, logger="fer_lightning")

    out, rows = run_predict(ckpt, tmp_path, f"input={photos}", "jsonl=true", "batch_size=2")

    by_file = {r["file"]: r for r in rows}
    assert sorted(by_file) == ["astronaut.png", "coffee.jpg", "sub/face.png"]
    assert len(rows) == 3
    assert_near_astronaut_face(by_file["astronaut.png"])
    assert_probabilities(by_file["astronaut.png"])
    face = by_file["sub/face.png"]
    assert [face[k] for k in "xywh"] == ["0", "0", "48", "48"]
    assert_probabilities(face)
    coffee = by_file["coffee.jpg"]
    assert coffee["emotion"] == "" and coffee["x"] == "" and coffee["angry"] == ""
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("broken.jpg" in m and "not a readable image" in m for m in warnings)
    assert any("coffee.jpg" in m and "no face" in m for m in warnings)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(m.startswith("astronaut.png: 1 face: ") for m in infos)
    assert any("faces/s" in m for m in infos)

    annotated = fd.read_image(out / "annotated" / "astronaut.png")
    assert annotated.shape == astronaut.shape
    x, y, _, h = (int(by_file["astronaut.png"][k]) for k in "xywh")
    assert annotated[y + h // 2, x].tolist() == [0, 220, 0]  # the box's left edge
    assert not np.array_equal(annotated, astronaut)
    assert (out / "annotated" / "coffee.jpg").is_file()
    assert fd.read_image(out / "annotated" / "sub" / "face.png").shape[0] >= 300  # enlarged
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["file"] for r in records] == [r["file"] for r in rows]


@pytest.mark.e2e
def test_pixels_csv_gives_one_row_per_line_with_tta(ckpt, tmp_path, write_csv):
    images, _ = generate_faces(5, seed=1)
    path = write_csv(csv_text(images, None, None, columns=("pixels",)), "test.csv")

    # fp32, as the reference below computes it.
    out, rows = run_predict(
        ckpt, tmp_path, f"input={path}", "tta=hflip", "batch_size=2", "precision=32"
    )

    assert [r["frame"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert {r["file"] for r in rows} == {str(path)}
    for row in rows:
        assert [row[k] for k in "xywh"] == ["0", "0", "48", "48"]
        assert_probabilities(row)
    assert not (out / "annotated").exists()
    # The training preprocessing, written out: x / 255, three channels, (x - 0.5) / 0.5, and the
    # softmax of each face and its mirror image averaged.
    module, _ = load_classifier(ckpt)
    x = torch.from_numpy(images).float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)
    x = (x - 0.5) / 0.5
    with torch.no_grad():
        expected = (module.net(x).softmax(-1) + module.net(x.flip(-1)).softmax(-1)) / 2
    got = np.array([[float(r[e]) for e in EMOTIONS] for r in rows])
    np.testing.assert_allclose(got, expected.numpy(), atol=2e-6)


@pytest.mark.e2e
def test_video_gives_a_row_per_sampled_frame_with_its_time_track_and_summary(ckpt, tmp_path):
    astronaut = bgr(skimage_data.astronaut())
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (512, 512))
    assert writer.isOpened()
    for shift in range(5):
        writer.write(np.roll(astronaut, 2 * shift, axis=1))
    writer.release()

    out, rows = run_predict(ckpt, tmp_path, f"input={video}", "every_n_frames=2", "jsonl=true")

    assert [r["frame"] for r in rows] == ["0", "2", "4"]
    assert [r["time_s"] for r in rows] == ["0.000", "0.400", "0.800"]  # 5 frames/s
    assert [r["track"] for r in rows] == ["1", "1", "1"]  # one face, followed
    for row in rows:
        assert row["model"] == str(ckpt)
        assert_near_astronaut_face(row, tolerance=12)
        assert_probabilities(row)
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [(r["time_s"], r["track"]) for r in records] == [(0.0, 1), (0.4, 1), (0.8, 1)]
    with (out / "video_summary.csv").open(newline="") as f:
        (summary,) = csv.DictReader(f)
    assert (summary["file"], summary["track"], summary["frames"]) == (str(video), "1", "3")
    assert (summary["first_s"], summary["last_s"], summary["seconds"]) == (
        "0.000",
        "0.800",
        "1.200",
    )
    shares = {e: float(summary[e]) for e in EMOTIONS}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    for emotion, share in shares.items():
        assert share == pytest.approx(sum(r["emotion"] == emotion for r in rows) / 3, abs=1e-4)
    assert summary["emotion"] == max(shares, key=shares.get)
    capture = cv2.VideoCapture(str(out / "annotated" / "clip.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    assert frames == 3


@pytest.mark.e2e
def test_detect_never_takes_the_whole_photo(ckpt, tmp_path):
    path = tmp_path / "astronaut.jpg"
    fd.write_image(path, bgr(skimage_data.astronaut()))
    out, rows = run_predict(ckpt, tmp_path, f"input={path}", "detect=never", "annotate=false")
    assert len(rows) == 1
    assert [rows[0][k] for k in "xywh"] == ["0", "0", "512", "512"]
    # A photo has no time and no track, and no video summary is written.
    assert (rows[0]["time_s"], rows[0]["track"], rows[0]["model"]) == ("", "", str(ckpt))
    assert not (out / "video_summary.csv").exists()


@pytest.mark.e2e
def test_unusable_inputs_are_one_line_errors(ckpt, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"junk")
    with pytest.raises(UserError, match="nothing could be read"):
        predict(compose_train([f"ckpt_path={ckpt}", f"input={broken}"], tmp_path, "predict"))
    with pytest.raises(UserError, match="no such checkpoint"):
        cfg = compose_train(
            [f"ckpt_path={tmp_path}/no.ckpt", f"input={broken}"], tmp_path, "predict"
        )
        predict(cfg)
    with pytest.raises(UserError, match="detect="):
        predict(compose_train([f"ckpt_path={ckpt}", "detect=maybe"], tmp_path, "predict"))
    args = [f"ckpt_path={ckpt}", "input=missing.jpg"]
    result = run_cli(args, tmp_path, timeout=120, module="fer_lightning.predict")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: missing.jpg: no such file or folder (input=PATH of an image, a folder of "
        "images, a video or a pixels CSV)"
    ]
