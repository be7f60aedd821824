"""The benchmark's own set-up still matches the package: a moved config or renamed module fails
here in seconds, not in a 4-minute `make bench` whose rows come back n/a."""

import importlib.util
import sys

import pytest
import torch

from fer_lightning.data.augment import build_augmentation
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("aug", ["colorjitter", "fer_cpu"])
def test_the_benchmarks_augmentation_groups_build(bench, aug):
    augmentation = build_augmentation(bench.aug_config(aug))
    assert augmentation.transforms is not None and len(augmentation.transforms) > 0


@pytest.mark.parametrize("name", ["emo1", "emo5", "compact_vgg"])
def test_the_benchmarks_networks_build(bench, name):
    channels = 1 if name == "compact_vgg" else 3
    logits = bench.network(name, channels_last=True)(torch.zeros(2, channels, 48, 48))
    assert logits.shape == (2, 7)
