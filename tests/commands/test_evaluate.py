"""Evaluating checkpoints: the same test accuracy as training logged, TTA, ensembles."""

import json

import pytest
import torch

from fer_lightning.data.augment import Augmentation
from fer_lightning.eval import evaluate
from fer_lightning.inference.classifier import load_classifier
from tests.helpers.commands import run_cli
from tests.helpers.configs import compose_train
from tests.helpers.runs import train_tiny

pytestmark = pytest.mark.e2e  # every test here trains or runs a command


@pytest.fixture(scope="module")
def trained(tiny_run, tmp_path_factory):
    """(best checkpoint, training metrics) of the tiny emo1 run and of an emo2 one."""
    emo2 = train_tiny(tmp_path_factory.mktemp("emo2"), "model=emo2")
    return [(run.best, run.metrics) for run in (tiny_run, emo2)]


def test_eval_reproduces_the_test_accuracy_of_training(trained, tmp_path):
    ckpt, metrics = trained[0]
    result = evaluate(compose_train([f"ckpt_path={ckpt}"], tmp_path, "eval"))
    assert result["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["metrics"]["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)


def test_eval_of_the_validation_split_and_with_tta(trained, tmp_path):
    ckpt, metrics = trained[0]
    val = evaluate(compose_train([f"ckpt_path={ckpt}", "split=val"], tmp_path, "eval"))
    assert val["test/acc"] == pytest.approx(metrics["val/acc_best"], abs=1e-6)
    for tta in ("hflip", "tencrop"):
        result = evaluate(compose_train([f"ckpt_path={ckpt}", f"tta={tta}"], tmp_path, "eval"))
        assert 0.0 <= result["test/acc"] <= 1.0


def test_ensemble_of_two_checkpoints(trained, tmp_path):
    paths = ",".join(str(c) for c, _ in trained)
    result = evaluate(compose_train([f"ckpt_path=[{paths}]"], tmp_path, "eval"))
    assert 0.0 <= result["test/acc"] <= 1.0


def test_tta_views_and_hflip_of_a_symmetric_face(trained):
    module, _ = load_classifier(trained[0][0])
    x = torch.rand(4, 3, 48, 24)
    x = torch.cat([x, x.flip(-1)], dim=-1)  # mirror-symmetric faces
    assert Augmentation(tta="hflip").eval(x).shape == (4, 2, 3, 48, 48)
    assert Augmentation(tta="tencrop").eval(x).shape == (4, 10, 3, 48, 48)
    y = torch.zeros(4, dtype=torch.int64)
    with torch.no_grad():
        _, plain, _ = module._step((x, y))
        _, flipped, _ = module._step((Augmentation(tta="hflip").eval(x), y))
    torch.testing.assert_close(flipped, plain, rtol=1e-5, atol=1e-6)


def test_missing_checkpoint_is_one_line(tmp_path):
    result = run_cli(
        [f"ckpt_path={tmp_path}/nope.ckpt"], tmp_path, timeout=120, module="fer_lightning.eval"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "nope.ckpt: no such checkpoint" in result.stderr
