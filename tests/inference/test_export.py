"""Exported models (TorchScript, ONNX) compute what the checkpoint computes, and say how."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_lightning.data.labels import EMOTIONS
from fer_lightning.data.synthetic import generate_faces
from fer_lightning.errors import UserError
from fer_lightning.export import export
from fer_lightning.inference.classifier import Classifier
from fer_lightning.inference.exporting import METADATA_FILE
from tests.helpers.configs import compose_train

pytestmark = pytest.mark.e2e  # every test here trains or runs a command


@pytest.fixture(scope="module")
def ckpts(tiny_run, tencrop_run) -> dict[str, Path]:
    """A plain model and a ten-crop one (40x40 input, ten views averaged in evaluation)."""
    return {"plain": tiny_run.last, "tencrop": tencrop_run.last}


def documented_input(faces: np.ndarray, meta: dict) -> np.ndarray:
    """The input as the metadata describes it, built without the project's code."""
    x = faces.astype(np.float32)[:, None] / 255.0
    x = np.repeat(x, meta["channels"], axis=1)
    return ((x - meta["mean"]) / meta["std"]).astype(np.float32)


def reference(ckpt: Path, faces: np.ndarray, tta: str) -> np.ndarray:
    return Classifier(ckpt, tta=tta, device="cpu", precision="32")(faces)  # exports are fp32


def run_export(ckpt: Path, tmp_path: Path, *overrides: str) -> Path:
    """Export with a small self-check (64 ten-crop faces are seconds of CPU on a busy machine)."""
    cfg = compose_train([f"ckpt_path={ckpt}", "check_faces=8", *overrides], tmp_path, "export")
    return export(cfg)


def check_meta(meta: dict) -> None:
    assert meta["classes"] == list(EMOTIONS)
    assert meta["input_name"] == "faces"
    assert meta["input_shape"] == ["N", 3, 48, 48]
    assert (meta["mean"], meta["std"], meta["channels"]) == (0.5, 0.5, 3)
    assert "softmax" in meta["output"]


@pytest.mark.filterwarnings("ignore:.*torch.jit.load.* is deprecated:FutureWarning")
@pytest.mark.parametrize(("model", "tta"), [("plain", "none"), ("tencrop", "none")])
def test_torchscript_matches_pytorch(ckpts, tmp_path, caplog, model, tta):
    caplog.set_level("INFO", logger="fer_lightning")
    path = run_export(ckpts[model], tmp_path, "format=torchscript", f"tta={tta}")
    assert path == tmp_path / "run" / "model.pt"
    assert any("max abs difference" in r.getMessage() for r in caplog.records)
    extra = {METADATA_FILE: ""}
    loaded = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    meta = json.loads(extra[METADATA_FILE])
    check_meta(meta)
    assert meta["source"] == meta["checkpoint"] == str(ckpts[model])
    assert meta["pretrained"] is None and meta["card"] is None
    assert meta["eval_crop"] == (None if model == "plain" else "ten")
    faces, _ = generate_faces(11, seed=5)  # another batch size than the export's trace
    with torch.inference_mode():
        probs = loaded(torch.from_numpy(documented_input(faces, meta))).numpy()
    expected = reference(ckpts[model], faces, tta)
    np.testing.assert_allclose(probs, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(("model", "tta"), [("plain", "hflip"), ("tencrop", "none")])
def test_onnx_matches_pytorch_in_onnxruntime(ckpts, tmp_path, model, tta):
    onnx = pytest.importorskip("onnx", reason="format=onnx needs the onnx package")
    ort = pytest.importorskip("onnxruntime", reason="running the ONNX model needs onnxruntime")
    output = tmp_path / "exported" / "fer.onnx"
    path = run_export(ckpts[model], tmp_path, "format=onnx", f"output={output}", f"tta={tta}")
    assert path == output
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    meta = json.loads(props[METADATA_FILE])
    check_meta(meta)
    assert meta["tta"] == tta
    assert props["classes"] == ",".join(EMOTIONS)
    (graph_input,) = proto.graph.input
    assert graph_input.name == "faces"
    assert graph_input.type.tensor_type.shape.dim[0].dim_param == "N"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    faces, _ = generate_faces(13, seed=6)
    (probs,) = session.run(["probabilities"], {"faces": documented_input(faces, meta)})
    np.testing.assert_allclose(probs, reference(ckpts[model], faces, tta), atol=1e-4, rtol=0)


def test_a_mismatch_and_bad_options_are_one_line_errors(ckpts, tmp_path):
    with pytest.raises(UserError, match=r"differs from the PyTorch model by .*tolerance"):
        run_export(ckpts["plain"], tmp_path, "format=torchscript", "tolerance=-1")
    with pytest.raises(UserError, match="format='keras' is unknown"):
        run_export(ckpts["plain"], tmp_path, "format=keras")
    with pytest.raises(UserError, match="no such checkpoint"):
        run_export(tmp_path / "missing.ckpt", tmp_path, "format=onnx")
