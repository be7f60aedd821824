"""The seed's six CNNs: parameter counts per layer and in total, exactly as the report's tables."""

import pytest
import torch
from hydra.utils import instantiate

# Parameters of each layer that has any (conv, batch norm, ..., linear), in order, and the total.
SEED_TABLES = {
    "emo1": ([448, 32, 4640, 64, 18496, 128, 73856, 256, 147584, 256, 129031], 374_791),
    "emo2": ([448, 32, 4640, 64, 18496, 128, 73856, 256, 147584, 256, 89607], 335_367),
    "emo3": (
        [448, 32, 4640, 64, 18496, 128, 73856, 256, 147584, 256, 295168, 512, 258055],
        799_495,
    ),
    "emo4": (
        [448, 32, 4640, 64, 18496, 128, 73856, 256, 147584, 256, 295168, 512, 4718720, 903],
        5_261_063,
    ),
    "emo5": (
        [
            448,
            32,
            4640,
            64,
            18496,
            128,
            73856,
            256,
            147584,
            256,
            295168,
            512,
            590080,
            512,
            295040,
            256,
            73792,
            128,
            64519,
        ],
        1_565_767,
    ),
    "emo6": ([1216, 32, 12832, 64, 51264, 128, 204928, 256, 409728, 256, 129031], 809_735),
}

# Spatial size after each conv stage, from the report's tables.
STAGE_SIZES = {
    "emo1": [48, 24, 12, 12, 12],
    "emo2": [46, 22, 10, 10, 10],
    "emo3": [48, 24, 12, 12, 12, 12],
    "emo5": [48, 24, 12, 12, 12, 12, 12, 12, 12],
}


def layer_counts(net: torch.nn.Module) -> list[int]:
    return [
        sum(p.numel() for p in m.parameters(recurse=False))
        for m in net.modules()
        if any(True for _ in m.parameters(recurse=False))
    ]


@pytest.mark.parametrize("name", sorted(SEED_TABLES))
def test_instantiated_model_matches_report_table(train_cfg, name):
    net = instantiate(train_cfg([f"model={name}"]).model)
    layers, total = SEED_TABLES[name]
    assert layer_counts(net) == layers
    assert sum(p.numel() for p in net.parameters()) == total


@pytest.mark.parametrize("name", sorted(SEED_TABLES))
def test_output_shape_and_channels_last(train_cfg, name):
    net = instantiate(train_cfg([f"model={name}"]).model).eval()
    x = torch.randn(4, 3, 48, 48)
    logits = net(x)
    assert logits.shape == (4, 7)
    # flatten, not view: the report's networks must also run in channels-last layout.
    net_cl = net.to(memory_format=torch.channels_last)
    torch.testing.assert_close(
        net_cl(x.to(memory_format=torch.channels_last)), logits, rtol=1e-4, atol=1e-4
    )


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(STAGE_SIZES))
def test_stage_output_sizes(train_cfg, name):
    net = instantiate(train_cfg([f"model={name}"]).model)
    x, sizes = torch.zeros(1, 3, 48, 48), []
    for stage in net.features:
        x = stage(x)
        sizes.append(x.shape[-1])
    assert sizes == STAGE_SIZES[name]


@pytest.mark.e2e
def test_in_channels_and_num_classes_are_configurable(train_cfg):
    cfg = train_cfg(["model=emo5", "model.in_channels=1", "model.num_classes=3"])
    net = instantiate(cfg.model)
    assert net(torch.zeros(2, 1, 48, 48)).shape == (2, 3)
    assert cfg.data.channels == 1  # the data module follows the model's input channels
