"""Shipped models: a zoo entry made from a run, loaded safely, used through EmotionRecognizer.

The entry is made from the suite's tiny run into a temporary folder that stands in for the
package's own ``zoo/models``; the shipped models themselves are checked when they are present.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_lightning.errors import UserError
from fer_lightning.inference.classifier import Classifier
from fer_lightning.zoo import registry
from fer_lightning.zoo.making import make_entry
from tests.helpers.paths import ROOT


@pytest.fixture(scope="module")
def tiny_zoo(tiny_run, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zoo")
    make_entry(tiny_run.best, "tiny", folder, "synthetic")
    return folder


@pytest.fixture
def zoo(tiny_zoo, monkeypatch) -> Path:
    monkeypatch.setattr(registry, "models_dir", lambda: tiny_zoo)
    monkeypatch.setattr(registry, "SHIPPED", ("tiny",))
    return tiny_zoo


@pytest.fixture
def recognizer(zoo):
    from fer_lightning import EmotionRecognizer

    return EmotionRecognizer.from_pretrained("tiny", device="cpu")


def test_an_entry_holds_safetensors_and_a_card_with_the_runs_figures(zoo, tiny_run):
    card = json.loads((zoo / "tiny.json").read_text())
    assert (zoo / card["weights"]["file"]).read_bytes()[:8] != b"PK\x03\x04"  # not a zip pickle
    assert card["weights"]["sha256"] == registry.sha256(zoo / "tiny.safetensors")
    assert card["weights"]["dtype"] in ("float16", "float32")
    check = card["weights"]["half_precision_check"]
    assert (card["weights"]["dtype"] == "float16") == (abs(check["cost_points"]) <= 0.05)
    assert card["classes"] == list(Classifier(tiny_run.best, device="cpu").class_names)
    assert card["params"] == int(tiny_run.metrics["params"])
    assert card["run_results"]["test/acc"] == pytest.approx(tiny_run.metrics["test/acc"])
    assert set(card["results"]["per_class_recall"]) == set(card["classes"])
    assert card["training"]["command"] and card["training"]["machine"]
    assert "cache_dir" not in card["config"]["data"]


def test_pretrained_gives_the_checkpoints_probabilities(recognizer, tiny_run):
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    checkpoint = Classifier(tiny_run.best, device="cpu")
    # float16 storage rounds each weight by at most 2**-11 of itself.
    np.testing.assert_allclose(recognizer.classify(faces), checkpoint(faces), atol=5e-3)
    assert recognizer.classes == checkpoint.class_names


def test_predict_takes_paths_pil_images_arrays_and_lists(recognizer, tmp_path):
    from skimage import data

    photo = data.astronaut()  # RGB, one face
    path = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(path)
    by_path = recognizer.predict(path)
    assert len(by_path) == 1 and by_path[0].label in recognizer.classes
    assert sum(by_path[0].scores.values()) == pytest.approx(1.0, abs=1e-4)
    by_array = recognizer.predict(photo)
    by_pil = recognizer.predict(Image.fromarray(photo))
    bgr = recognizer.predict(photo[..., ::-1].copy(), color="bgr")
    for other in (by_array, by_pil, bgr):
        assert other[0].box == by_path[0].box
        assert other[0].scores == pytest.approx(by_path[0].scores, abs=1e-5)
    both = recognizer.predict([path, np.zeros((100, 100), np.uint8)])
    assert len(both) == 2 and len(both[0]) == 1 and both[1] == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.predict("missing.jpg"), "no such image file"),
        (lambda r: r.predict(np.zeros((10, 10), np.float32)), "must be uint8"),
        (lambda r: r.predict(np.zeros((10, 10, 3), np.uint8), color="hsv"), "color='hsv'"),
        (lambda r: r.classify(np.zeros((2, 40, 40), np.uint8)), r"face crops \[N, 48, 48\]"),
        (lambda r: list(r.video("missing.mp4")), "no such video file"),
    ],
)
def test_bad_input_is_one_line(recognizer, call, message):
    with pytest.raises(UserError, match=message):
        call(recognizer)


def test_an_unknown_name_lists_the_shipped_ones(zoo):
    with pytest.raises(
        UserError, match=r"pretrained='nope' is not a shipped model: use one of tiny"
    ):
        Classifier(pretrained="nope")


def test_a_changed_or_truncated_weights_file_is_one_line(zoo, tmp_path, monkeypatch):
    copy = tmp_path / "zoo"
    copy.mkdir()
    for file in zoo.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    monkeypatch.setattr(registry, "models_dir", lambda: copy)
    weights = copy / "tiny.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="SHA-256 differs from the one its card states"):
        Classifier(pretrained="tiny")
    weights.write_bytes(bytes(data[: len(data) // 2]))
    card = json.loads((copy / "tiny.json").read_text())
    card["weights"]["sha256"] = registry.sha256(weights)  # a card that vouches for the damage
    (copy / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="not a readable safetensors file"):
        Classifier(pretrained="tiny")


def test_a_cards_config_is_checked_like_a_checkpoints(zoo, tmp_path, monkeypatch):
    copy = tmp_path / "zoo"
    copy.mkdir()
    for file in zoo.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    monkeypatch.setattr(registry, "models_dir", lambda: copy)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    card = json.loads((copy / "tiny.json").read_text())
    card["config"]["model"]["x"] = (
        f"${{oc.create:{{_target_: builtins.open, _args_: ['{victim}', w]}}}}"
    )
    (copy / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match=r"calls the resolver 'oc\.create'"):
        Classifier(pretrained="tiny")
    assert victim.read_text() == "precious"


def test_importing_the_package_and_its_api_loads_no_training_machinery():
    code = (
        "import sys, fer_lightning; fer_lightning.EmotionRecognizer; "
        "print(sorted(m for m in ('torch', 'lightning', 'hydra') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", registry.SHIPPED)
def test_every_shipped_model_loads_from_its_card(name):
    if not (registry.models_dir() / f"{name}.safetensors").exists():
        pytest.skip(f"{name} is not in fer_lightning/zoo/models yet")
    from fer_lightning import EmotionRecognizer

    rec = EmotionRecognizer.from_pretrained(name, device="cpu")
    card = registry.card(name)
    assert list(rec.classes) == card["classes"]
    assert rec.classify(np.zeros((1, 48, 48), np.uint8)).shape == (1, len(card["classes"]))


SHARED_VOTES = ROOT.parent / "shared" / "data" / "ferplus" / "fer2013new_dev.csv"


@pytest.mark.parametrize("precision", ["32", "bf16"])
@pytest.mark.parametrize("name", registry.SHIPPED)
def test_a_shipped_model_reaches_its_cards_accuracy_on_the_shared_copy(name, precision, shared_csv):
    """``classify`` on the test faces of the shared copy gives the accuracy the card states
    (measured in fp32); bf16 autocast, the default where it is native, within 0.2 points."""
    if not (registry.models_dir() / f"{name}.safetensors").exists():
        pytest.skip(f"{name} is not in fer_lightning/zoo/models yet")
    from fer_lightning import EmotionRecognizer
    from fer_lightning.runs.machine import native_bf16_cpu

    if precision == "bf16" and not native_bf16_cpu():
        pytest.skip("this CPU emulates bf16 (no AVX512-BF16 or AMX): slow, and not the default")
    rec = EmotionRecognizer.from_pretrained(name, device="cpu", precision=precision)
    data = {"path": str(shared_csv), "cache_dir": None}
    if rec.card["config"]["data"].get("ferplus_path"):
        data["ferplus_path"] = str(SHARED_VOTES)
    datamodule = Classifier(pretrained=name, device="cpu", data=data).datamodule
    datamodule.setup("test")
    test = datamodule.dataset("test")
    probs = rec.classify(test.images.numpy())
    accuracy = float((probs.argmax(1) == test.labels.numpy()).mean())
    tolerance = 2e-4 if precision == "32" else 2e-3
    assert accuracy == pytest.approx(rec.card["results"]["accuracy"], abs=tolerance)


def test_video_gives_frames_with_times_and_one_track(recognizer, tmp_path):
    import cv2
    from skimage import data

    astronaut = np.ascontiguousarray(data.astronaut()[..., ::-1])
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (512, 512))
    for shift in range(5):
        writer.write(np.roll(astronaut, 2 * shift, axis=1))
    writer.release()
    frames = list(recognizer.video(video, every_n_frames=2))
    assert [(f.index, f.time_s) for f in frames] == [(0, 0.0), (2, 0.4), (4, 0.8)]
    assert [[face.track for face in f.faces] for f in frames] == [[1], [1], [1]]
    assert recognizer.predict(astronaut)[0].track is None


def test_report_zoo_writes_the_model_table_into_a_document(zoo, tmp_path):
    from fer_lightning.report import main

    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- begin report zoo -->\nold\n<!-- end report zoo -->\nafter\n")
    main(["--zoo", "--into", f"{readme}#zoo"])
    text = readme.read_text()
    card = registry.card("tiny")
    assert "| `tiny` | 7 |" in text and f"{100 * card['results']['accuracy']:.2f}%" in text
    assert "old" not in text and text.endswith("<!-- end report zoo -->\nafter\n")


def test_eval_judges_the_shipped_model_on_the_shared_copy_as_its_card_says(shared_csv, tmp_path):
    """`python -m fer_lightning.eval data.path=... data.ferplus_path=...`: no checkpoint."""
    if not (registry.models_dir() / "ferplus.safetensors").exists():
        pytest.skip("ferplus is not in fer_lightning/zoo/models yet")
    from fer_lightning.eval import evaluate
    from tests.helpers.configs import compose_train

    overrides = [f"data.path={shared_csv}", f"data.ferplus_path={SHARED_VOTES}"]
    metrics = evaluate(compose_train([*overrides, "trainer.precision=32-true"], tmp_path, "eval"))
    assert metrics["test/acc"] == pytest.approx(registry.card("ferplus")["results"]["accuracy"])
