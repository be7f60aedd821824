"""Every network of conf/model, the list read from the folder: a new file gets these checks too.

Cheap checks only (a forward pass of two faces); every network's fit and test through the entry
point is ``test_train.test_every_model_runs_fit_and_test``.
"""

from __future__ import annotations

import importlib.resources
import re

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from fer_lightning.callbacks.model_summary import summary_table
from fer_lightning.models.stages import capture_activations, conv_stages, first_conv
from tests.helpers.configs import MODELS, compose_train

# "1,174,439 parameters" in a model file's comments: the count of the file's own settings.
STATED_COUNT = re.compile(r"^#.*?\b(\d{1,3}(?:,\d{3})+) parameters", re.MULTILINE)


@pytest.fixture(scope="module", params=MODELS)
def model(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def cfg(model, tmp_path_factory):
    """The train config with model=<each file of conf/model>, composed once per model."""
    return compose_train([f"model={model}"], tmp_path_factory.mktemp(model))


def faces(cfg, n: int = 2) -> torch.Tensor:
    """A batch as the data module hands it to the network: data.channels, model.input_size."""
    size = cfg.model.input_size
    return torch.randn(n, cfg.data.channels, size, size)


def test_the_list_is_the_folder():
    """An empty or wrong list would leave the checks below with nothing, or too little, to run."""
    assert {"emo1", "emo6", "compact_vgg", "resnet18_fer", "vgg_fer"} <= set(MODELS)


@pytest.mark.e2e
def test_builds_from_its_config_and_classifies_two_faces(cfg):
    assert cfg.data.channels == cfg.model.in_channels  # the data module follows the network
    net = instantiate(cfg.model).eval()
    assert isinstance(net, nn.Module)
    with torch.no_grad():
        assert net(faces(cfg)).shape == (2, cfg.model.num_classes)
    three = instantiate(cfg.model, num_classes=3).eval()
    with torch.no_grad():
        assert three(faces(cfg)).shape == (2, 3)


@pytest.mark.e2e
def test_parameter_count_is_the_sum_of_the_parameters(cfg, model):
    """The model summary's total, and the count a model file's comments state, if any."""
    net = instantiate(cfg.model)
    total = sum(p.numel() for p in net.parameters())
    size = cfg.model.input_size
    table = summary_table(net, (cfg.data.channels, size, size))
    assert f"Total params: {total:,}\n" in table
    text = importlib.resources.files("fer_lightning.conf").joinpath(f"model/{model}.yaml")
    stated = STATED_COUNT.findall(text.read_text())
    if stated:
        assert int(stated[0].replace(",", "")) == total, f"conf/model/{model}.yaml says {stated[0]}"


@pytest.mark.e2e
def test_conv_stages_are_found_and_give_feature_maps(cfg):
    """What the activation pictures draw: the stages inside the network, each a [N, C, h, w]."""
    net = instantiate(cfg.model)
    stages = conv_stages(net)
    names = [name for name, _ in stages]
    assert len(names) >= 2 and len(set(names)) == len(names)
    assert all(name.startswith("features.") for name in names)  # not the classifier head
    logits, maps = capture_activations(net, faces(cfg), stages)
    assert logits.shape == (2, cfg.model.num_classes)
    assert list(maps) == names
    assert all(m.ndim == 4 and len(m) == 2 for m in maps.values())
    name, conv = first_conv(net)
    assert conv.in_channels == cfg.model.in_channels and name.startswith("features.")
