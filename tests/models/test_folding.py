"""Batch norms folded for inference: the same function for every network of conf/model."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from fer_lightning.models.folding import fold_batch_norms
from tests.helpers.configs import MODELS, compose_train


@pytest.mark.parametrize("model", MODELS)
def test_folding_keeps_the_function_and_the_original(model, tmp_path):
    cfg = compose_train([f"model={model}"], tmp_path)
    torch.manual_seed(0)
    net = instantiate(cfg.model)
    # Trained-looking statistics, so a wrong fold cannot hide behind mean 0 and variance 1.
    for norm in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batch_norms(net)
    size = cfg.model.input_size
    x = torch.randn(3, cfg.data.channels, size, size)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-4, atol=1e-4)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    left = [m for m in folded.modules() if isinstance(m, nn.BatchNorm2d)]
    if model == "compact_vgg":  # conv -> bn pairs throughout: none left
        assert norms and not left
