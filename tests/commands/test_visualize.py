"""`fer_lightning.visualize`: checkpoint and face picture in; stage pictures and prediction out."""

import logging
import os
import subprocess
import sys
from subprocess import PIPE

import numpy as np
import pytest
import torch
from PIL import Image

from fer_lightning.data import FERDataModule
from fer_lightning.data.augment import Augmentation
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.errors import UserError
from fer_lightning.inference.classifier import Classifier, load_classifier
from fer_lightning.visualize import load_face, visualize
from tests.helpers.configs import compose_train
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.e2e  # every test here trains or runs a command

STAGES = [f"features.stage{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def trained(tencrop_run, tmp_path_factory):
    """A ten-crop emo1 (40x40 input) trained for two steps, and a colour face picture of 96x96."""
    faces, _ = generate_faces(1, seed=3)
    face = tmp_path_factory.mktemp("face") / "face.png"
    gray = Image.fromarray(faces[0]).resize((96, 96))
    Image.merge("RGB", [gray, gray, gray.point(lambda v: v // 2)]).save(face)
    return tencrop_run.last, face


def test_visualize_writes_every_stage_and_the_prediction(trained, tmp_path, caplog):
    ckpt, face = trained
    cfg = compose_train([f"ckpt_path={ckpt}", f"image={face}"], tmp_path, config="visualize")
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        folder = visualize(cfg)
    assert folder == tmp_path / "run"
    names = [f"activations_{s}.png" for s in STAGES] + ["filters.png", "probabilities.png"]
    for name in names:
        with Image.open(folder / name) as image:
            assert image.format == "PNG" and min(image.size) > 150, name
            assert np.asarray(image.convert("L")).std() > 10, name  # not blank
    assert sorted(p.name for p in folder.glob("*.png")) == sorted(names)
    assert any(r.getMessage().startswith("Predicted ") for r in caplog.records)


def test_the_face_is_read_and_predicted_as_evaluation_does(trained):
    ckpt, face_png = trained
    face = load_face(face_png)
    assert face.shape == (48, 48) and face.dtype == np.uint8
    probs = torch.from_numpy(Classifier(ckpt, device="cpu", precision="32")(face[None])[0])
    assert probs.shape == (7,) and float(probs.sum()) == pytest.approx(1.0, abs=1e-5)
    module, _ = load_classifier(ckpt)
    # The data module's evaluation path with the run's ten crops, and the module's averaging.
    dm = FERDataModule(channels=3, augmentation=Augmentation(eval_crop="ten", crop_size=40))
    labels = torch.zeros(1, dtype=torch.long)
    x = dm.preprocess(torch.from_numpy(face[None]), labels, train=False)[0]
    assert x.shape == (1, 10, 3, 40, 40)
    torch.testing.assert_close(probs, module._step((x, labels))[1][0])


def test_missing_options_and_bad_images_are_user_errors(trained, tmp_path):
    ckpt, face = trained

    def run(*overrides):
        return visualize(compose_train(list(overrides), tmp_path, config="visualize"))

    with pytest.raises(UserError, match=r"no model given: pretrained=<name> .* or ckpt_path="):
        run(f"image={face}", "pretrained=null")
    with pytest.raises(UserError, match="image="):
        run(f"ckpt_path={ckpt}")
    with pytest.raises(UserError, match=r"nothing\.png: no such image file"):
        run(f"ckpt_path={ckpt}", f"image={tmp_path / 'nothing.png'}")
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(UserError, match=r"notes\.png: not a readable image"):
        run(f"ckpt_path={ckpt}", f"image={tmp_path / 'notes.png'}")


def test_the_command_line(trained, tmp_path):
    ckpt, face = trained
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "fer_lightning.visualize", f"ckpt_path={ckpt}"]
    # Both at once: most of each is Python importing torch and Lightning.
    runs = [
        subprocess.Popen([*command, image], cwd=cwd, env=env, stdout=PIPE, stderr=PIPE, text=True)
        for image, cwd in ((f"image={face}", tmp_path), ("image=missing.png", face.parent))
    ]
    (out, err), (_, missing_err) = (run.communicate(timeout=300) for run in runs)
    assert runs[0].returncode == 0, err
    (folder,) = (tmp_path / "outputs" / "visualize" / "runs").iterdir()
    assert (folder / "probabilities.png").is_file()
    assert (folder / "visualize.log").is_file()  # Hydra's job log is named after the task
    assert (folder / "activations_features.stage5.png").is_file()
    assert "Predicted " in out + err
    assert runs[1].returncode == 2
    assert missing_err.strip().splitlines() == [
        "error: missing.png: no such image file (image=PATH of a face picture)"
    ]
