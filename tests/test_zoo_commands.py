"""predict, export and visualize with the shipped models; ``export format=zoo`` makes an entry.

The shipped files are stood in for by entries the export command makes from the suite's tiny
run, under the shipped names, in a temporary folder the registry is pointed at: the commands'
defaults (``pretrained: ferplus``) are what is tested.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from fer_lightning.data.synthetic import generate_faces
from fer_lightning.errors import UserError
from fer_lightning.export import export
from fer_lightning.inference import face_detection as fd
from fer_lightning.predict import predict
from fer_lightning.visualize import visualize
from fer_lightning.zoo import registry
from tests.helpers.configs import compose_train


@pytest.fixture(scope="module")
def made_zoo(tiny_run, tmp_path_factory) -> Path:
    """``ferplus`` made by ``export format=zoo`` from the tiny run, and a copy as ``fer2013``."""
    folder = tmp_path_factory.mktemp("zoo")
    overrides = [f"ckpt_path={tiny_run.best}", "format=zoo", "name=ferplus", f"out={folder}"]
    card_path = export(compose_train(overrides, tmp_path_factory.mktemp("export"), "export"))
    assert card_path == folder / "ferplus.json"
    card = json.loads(card_path.read_text())
    (folder / "fer2013.safetensors").write_bytes((folder / "ferplus.safetensors").read_bytes())
    card["name"], card["weights"]["file"] = "fer2013", "fer2013.safetensors"
    (folder / "fer2013.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def zoo(made_zoo, monkeypatch) -> Path:
    monkeypatch.setattr(registry, "models_dir", lambda: made_zoo)
    monkeypatch.setattr(registry, "SHIPPED", ("ferplus", "fer2013"))
    return made_zoo


@pytest.fixture(scope="module")
def face(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("face") / "face.png"
    fd.write_image(path, generate_faces(1, seed=3)[0][0])
    return path


def predicted(tmp_path: Path, *overrides: str) -> list[dict[str, str]]:
    out = predict(compose_train(list(overrides), tmp_path, "predict"))
    with (out / "predictions.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_format_zoo_makes_an_entry_whose_card_reads_the_run(zoo, tiny_run):
    card = registry.card("ferplus")
    assert card["name"] == "ferplus"
    assert card["data"]["name"] == "synthetic"  # the tiny run's faces, not FER2013's
    assert card["weights"]["sha256"] == registry.sha256(zoo / "ferplus.safetensors")
    assert card["run_results"]["test/acc"] == pytest.approx(tiny_run.metrics["test/acc"])


def test_format_zoo_writes_into_the_packages_zoo_by_default(
    tiny_run, tmp_path, monkeypatch, caplog
):
    package_zoo = tmp_path / "package_zoo"
    monkeypatch.setattr(registry, "models_dir", lambda: package_zoo)
    overrides = [f"ckpt_path={tiny_run.best}", "format=zoo", "name=new_model"]
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        card = export(compose_train(overrides, tmp_path, "export"))
    assert card == package_zoo / "new_model.json"
    assert (package_zoo / "new_model.safetensors").is_file()
    assert any("add 'new_model' to SHIPPED" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["format=zoo", "name=x"], r"format=zoo makes an entry from a run of yours: ckpt_path="),
        (["format=zoo", "ckpt_path=[a.ckpt,b.ckpt]", "name=x"], r"not an ensemble"),
        (["format=zoo", "ckpt_path=a.ckpt"], r"name=None: format=zoo needs the entry's name"),
        (["format=zoo", "ckpt_path=a.ckpt", "name=../x"], r"name=\.\./x: format=zoo needs"),
        (["format=zoo", "ckpt_path=a.ckpt", "output=m.onnx"], r"output=m.onnx: .* out=DIR"),
        (["format=onnx", "name=x"], r"name=x: only format=zoo takes name= and out="),
        (["format=keras"], r"format='keras' is unknown: use onnx, torchscript or zoo"),
    ],
)
def test_format_zoo_mistakes_are_one_line(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        export(compose_train(overrides, tmp_path, "export"))


def test_format_zoo_into_a_folder_under_a_file_is_one_line(tiny_run, tmp_path):
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "zoo"
    overrides = [f"ckpt_path={tiny_run.best}", "format=zoo", "name=x", f"out={out}"]
    with pytest.raises(UserError, match=r"out=.*/a_file/zoo: .*a_file is a file, .*out=DIR"):
        export(compose_train(overrides, tmp_path, "export"))


def test_predict_uses_the_shipped_ferplus_unless_told_otherwise(
    zoo, tiny_run, face, tmp_path, caplog
):
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        (row,) = predicted(tmp_path / "a", f"input={face}")
    assert row["model"] == "pretrained:ferplus"
    assert any(r.getMessage().startswith("Model: the shipped ferplus") for r in caplog.records)
    (other,) = predicted(tmp_path / "b", f"input={face}", "pretrained=fer2013")
    assert other["model"] == "pretrained:fer2013"
    (mine,) = predicted(
        tmp_path / "c", f"input={face}", "pretrained=fer2013", f"ckpt_path={tiny_run.best}"
    )
    assert mine["model"] == str(tiny_run.best)  # ckpt_path wins
    probs = [
        np.array([float(r[c]) for c in registry.card("ferplus")["classes"]]) for r in (row, mine)
    ]
    np.testing.assert_allclose(probs[0], probs[1], atol=5e-3)  # float16 storage, same network


def test_an_unknown_or_missing_model_is_one_line(zoo, face, tmp_path):
    with pytest.raises(
        UserError, match=r"pretrained='nope' is not a shipped model: use one of ferplus, fer2013"
    ):
        predicted(tmp_path, f"input={face}", "pretrained=nope")
    with pytest.raises(
        UserError, match=r"no model given: pretrained=<name> .*\(ferplus, fer2013\) or ckpt_path="
    ):
        predicted(tmp_path, f"input={face}", "pretrained=null")
    with pytest.raises(UserError, match=r"pretrained=.*: name one shipped model .*ckpt_path=\[a"):
        predicted(tmp_path, f"input={face}", "pretrained=[a,b]")


def test_export_of_a_shipped_model_names_it_and_carries_its_cards_figures(zoo, tmp_path):
    onnx = pytest.importorskip("onnx", reason="format=onnx needs the onnx package")
    pytest.importorskip("onnxruntime", reason="the export is checked in onnxruntime")
    path = export(compose_train(["pretrained=fer2013", "check_faces=4"], tmp_path, "export"))
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    meta = json.loads(props["fer_lightning.json"])
    card = registry.card("fer2013")
    assert (meta["pretrained"], meta["source"], meta["checkpoint"]) == (
        "fer2013",
        "pretrained:fer2013",
        None,
    )
    assert meta["card"]["accuracy"] == card["results"]["accuracy"]
    assert meta["card"]["per_class_recall"] == card["results"]["per_class_recall"]
    assert meta["card"]["terms"] == card["data"]["terms"]
    assert props["source"] == "pretrained:fer2013"
    assert props["test_accuracy"].startswith(str(card["results"]["accuracy"]))


def test_visualize_uses_the_shipped_model_by_default(zoo, face, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="fer_lightning"):
        folder = visualize(compose_train([f"image={face}"], tmp_path, "visualize"))
    assert (folder / "probabilities.png").is_file()
    predicted_line = next(
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Predicted")
    )
    assert predicted_line.endswith("with pretrained:ferplus")
