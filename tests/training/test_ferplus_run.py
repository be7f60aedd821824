"""FER+ labels end to end: eight classes through training, callbacks, checkpoints, predict, export.

The tiny run's synthetic faces get a generated FER+ vote file with the same rows and Usage: most
faces a clear majority for the FER+ emotion of their own label, some ambiguous, some with an
"unknown" or not-a-face majority, which the splits must drop.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch

from fer_lightning.data import FERDataModule
from fer_lightning.data.labels import FERPLUS_EMOTIONS
from fer_lightning.export import export
from fer_lightning.inference.classifier import load_classifier
from fer_lightning.predict import predict
from tests.helpers.configs import compose_train
from tests.helpers.ferplus import write_votes
from tests.helpers.runs import ALL_OUTPUTS, TINY_FACES, train_tiny


@pytest.fixture(scope="module")
def ferplus_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("ferplus")
    votes = tmp / "fer2013new.csv"
    write_votes(votes)
    run = train_tiny(
        tmp,
        *ALL_OUTPUTS,
        "data.labels=ferplus",
        f"data.ferplus_path={votes}",
        "data.ferplus_scheme=crossentropy",
    )
    return run, votes


def test_the_splits_drop_faces_without_a_usable_label(tmp_path):
    votes_path = tmp_path / "fer2013new.csv"
    votes = write_votes(votes_path)
    base = FERDataModule(source="synthetic", synthetic_size=TINY_FACES)
    base.load()
    for scheme in ("majority", "crossentropy"):
        dm = FERDataModule(
            source="synthetic",
            synthetic_size=TINY_FACES,
            labels="ferplus",
            ferplus_path=str(votes_path),
            ferplus_scheme=scheme,
        )
        faces = dm.load()
        assert faces.class_names == FERPLUS_EMOTIONS and dm.class_names == FERPLUS_EMOTIONS
        for name, index in base.indices.items():
            kept = dm.indices[name]
            assert set(kept) <= set(index)  # the same splits, less the dropped faces
            unknown_or_nf = (votes[index, 8:].max(1) >= 7) | (votes[index, 9] == 10)
            assert not set(kept) & set(index[unknown_or_nf])
        # Validation and test never keep the 4/4/2 faces; the soft scheme trains on them.
        ambiguous = np.flatnonzero(np.arange(TINY_FACES) % 10 == 7)
        assert not set(dm.indices["test"]) & set(ambiguous)
        trains_ambiguous = bool(set(dm.indices["train"]) & set(ambiguous))
        assert trains_ambiguous == (scheme == "crossentropy")
        train = dm.dataset("train")
        assert train.targets is not None and train.targets.shape[1] == 8
        torch.testing.assert_close(train.targets.sum(1), torch.ones(len(train)))


@pytest.mark.e2e
def test_a_run_with_ferplus_labels_has_eight_classes_everywhere(ferplus_run):
    run, _ = ferplus_run
    module, config = load_classifier(run.last)
    assert module.class_names == FERPLUS_EMOTIONS
    assert config.model.num_classes == 8 and config.data.labels == "ferplus"
    assert module.net(torch.zeros(2, 3, 48, 48)).shape == (2, 8)
    matrix = pd.read_csv(run.dir / "confusion_matrix_test.csv", index_col=0)
    assert list(matrix.columns) == list(FERPLUS_EMOTIONS)
    report = pd.read_csv(run.dir / "test_classification_report.csv", index_col=0)
    assert list(report.index[:8]) == list(FERPLUS_EMOTIONS)
    assert all(f"test/recall/{name}" in run.metrics for name in FERPLUS_EMOTIONS)


@pytest.mark.e2e
def test_predict_and_export_name_the_eight_classes(ferplus_run, tmp_path, write_csv):
    run, _ = ferplus_run
    rng = np.random.default_rng(0)
    pixels = [" ".join(map(str, rng.integers(0, 256, 48 * 48))) for _ in range(3)]
    faces = write_csv("pixels\n" + "\n".join(pixels) + "\n", "faces.csv")
    cfg = compose_train([f"ckpt_path={run.last}", f"input={faces}"], tmp_path, "predict")
    out = predict(cfg)
    with (out / "predictions.csv").open() as f:
        header = next(csv.reader(f))
    assert header[-8:] == list(FERPLUS_EMOTIONS)
    cfg = compose_train([f"ckpt_path={run.last}", "format=torchscript"], tmp_path, "export")
    path = export(cfg)
    extra = {"fer_lightning.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["fer_lightning.json"])["classes"] == list(FERPLUS_EMOTIONS)
    assert loaded(torch.zeros(2, 3, 48, 48)).shape == (2, 8)


@pytest.mark.e2e
@pytest.mark.parametrize("scheme", ["majority", "probability", "multilabel"])
def test_every_scheme_trains(tmp_path, scheme):
    votes = tmp_path / "fer2013new.csv"
    write_votes(votes)
    run = train_tiny(
        tmp_path,
        "data.labels=ferplus",
        f"data.ferplus_path={votes}",
        f"data.ferplus_scheme={scheme}",
    )
    assert np.isfinite(run.metrics["train/loss"]) and 0 <= run.metrics["test/acc"] <= 1
