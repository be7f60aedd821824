"""The stronger networks (vgg_fer, resnet18_fer, compact_vgg) and the fer_sota recipe.

Parameter counts are derived here from the architectures' formulas and also pinned as integers,
so a change in either the code or the formulas fails. Every network's fit and test through the
real entry point is in test_train; here the ResNet also goes through the fer_sota experiment
itself (ten-crop, MixUp, SGD, cosine) on the CPU.
"""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn
from torchvision.models.resnet import BasicBlock

from fer_lightning.callbacks.ema import EMA
from fer_lightning.config import instantiate_all
from fer_lightning.models.compact_vgg import CompactVGG
from fer_lightning.models.resnet_fer import ResNetFER
from fer_lightning.models.stages import conv_stages
from fer_lightning.models.vgg_fer import VggFER
from fer_lightning.training.fit import run_config, train
from tests.helpers.runs import TINY

WIDTHS = (64, 128, 256, 512)


# -- parameter counts by hand ----------------------------------------------------------------------
def conv(cin: int, cout: int, k: int, bias: bool) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def bn(c: int) -> int:
    return 2 * c  # weight and bias; running statistics are buffers


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def vgg_params(cin: int, size: int, classes: int = 7, hidden: int = 4096) -> int:
    """Four stages of 2x (conv3x3 with bias + BN) and a pool, then FC hidden-hidden-classes."""
    total, c = 0, cin
    for w in WIDTHS:
        total += conv(c, w, 3, True) + bn(w) + conv(w, w, 3, True) + bn(w)
        c, size = w, size // 2
    head = linear(c * size * size, hidden) + linear(hidden, hidden) + linear(hidden, classes)
    return total + head


def compact_vgg_params(cin: int, classes: int = 7, widths=(32, 64, 128, 256)) -> int:
    """Stages of 2x (bias-free conv3x3 + BN), pools between them, then pool and one FC."""
    total, c = 0, cin
    for w in widths:
        total += conv(c, w, 3, False) + bn(w) + conv(w, w, 3, False) + bn(w)
        c = w
    return total + linear(c, classes)


def resnet18_params(cin: int, classes: int = 7) -> int:
    """3x3 stem + BN; 2 BasicBlocks per stage (bias-free convs), 1x1 projection where needed."""
    total, c = conv(cin, 64, 3, False) + bn(64), 64
    for i, w in enumerate(WIDTHS):
        for b in range(2):
            stride = 2 if i > 0 and b == 0 else 1
            total += conv(c, w, 3, False) + bn(w) + conv(w, w, 3, False) + bn(w)
            if stride != 1 or c != w:
                total += conv(c, w, 1, False) + bn(w)
            c = w
    return total + linear(c, classes)


# (model, in_channels, input_size) -> pinned parameter count.
PINNED = {
    ("vgg_fer", 3, 40): 29_891_911,
    ("vgg_fer", 1, 40): 29_890_759,
    ("vgg_fer", 3, 48): 40_377_671,
    ("vgg_fer", 1, 48): 40_376_519,
    ("resnet18_fer", 3, 40): 11_172_423,
    ("resnet18_fer", 1, 40): 11_171_271,
    ("resnet18_fer", 3, 48): 11_172_423,
    ("resnet18_fer", 1, 48): 11_171_271,
    ("compact_vgg", 1, 40): 1_174_439,
    ("compact_vgg", 1, 48): 1_174_439,
    ("compact_vgg", 3, 48): 1_175_015,
}
BY_HAND = {"vgg_fer": vgg_params, "resnet18_fer": lambda c, _size: resnet18_params(c)}
BY_HAND["compact_vgg"] = lambda c, _size: compact_vgg_params(c)


def build(train_cfg, name: str, channels: int = 3, size: int = 48, *extra: str) -> nn.Module:
    overrides = [f"model={name}", f"model.in_channels={channels}", f"model.input_size={size}"]
    return instantiate(train_cfg([*overrides, *extra]).model)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.e2e
@pytest.mark.parametrize(("name", "channels", "size"), sorted(PINNED))
def test_parameter_counts_and_output_shape(train_cfg, name, channels, size):
    net = build(train_cfg, name, channels, size)
    assert n_params(net) == BY_HAND[name](channels, size) == PINNED[name, channels, size]
    net.eval()
    assert net(torch.randn(2, channels, size, size)).shape == (2, 7)


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["vgg_fer", "resnet18_fer", "compact_vgg"])
def test_channels_last_gives_the_same_logits(train_cfg, name):
    torch.manual_seed(0)
    net = build(train_cfg, name).eval()
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        logits = net(x)
        net_cl = net.to(memory_format=torch.channels_last)
        logits_cl = net_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(logits_cl, logits, rtol=1e-4, atol=1e-4)


# Output [C, H, W] of each named stage for a 48 px face: hooks and summaries address these.
STAGES = {
    "vgg_fer": {
        "features.stage1": (64, 24, 24),
        "features.stage2": (128, 12, 12),
        "features.stage3": (256, 6, 6),
        "features.stage4": (512, 3, 3),
        "classifier": (7,),
    },
    "resnet18_fer": {
        "features.stem": (64, 48, 48),
        "features.stage1": (64, 48, 48),
        "features.stage2": (128, 24, 24),
        "features.stage3": (256, 12, 12),
        "features.stage4": (512, 6, 6),
        "classifier": (7,),
    },
    # No pool after the last stage: global average pooling follows it.
    "compact_vgg": {
        "features.stage1": (32, 24, 24),
        "features.stage2": (64, 12, 12),
        "features.stage3": (128, 6, 6),
        "features.stage4": (256, 6, 6),
        "classifier": (7,),
    },
}


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(STAGES))
def test_named_stages_and_their_outputs(train_cfg, name):
    net = build(train_cfg, name, 3).eval()
    modules = dict(net.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}
    for stage in STAGES[name]:
        modules[stage].register_forward_hook(
            lambda m, i, out, stage=stage: shapes.__setitem__(stage, tuple(out.shape[1:]))
        )
    with torch.no_grad():
        net(torch.zeros(1, 3, 48, 48))
    assert shapes == STAGES[name]
    # The activation-grid callback finds its stages inside features, not in the head.
    assert conv_stages(net) and all(n.startswith("features.") for n, _ in conv_stages(net))


def test_vgg_stage_layers_are_named(train_cfg):
    net = build(train_cfg, "vgg_fer", 3, 48, "model.dropout=0.3")
    layers = ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "pool"]
    for i in range(1, 5):
        assert [n for n, _ in getattr(net.features, f"stage{i}").named_children()] == layers
    assert net.classifier.drop1.p == net.classifier.drop2.p == 0.3


@pytest.mark.e2e
def test_resnet_blocks_are_torchvisions_and_zero_init_is_optional(train_cfg):
    net = build(train_cfg, "resnet18_fer")
    blocks = [m for m in net.modules() if isinstance(m, BasicBlock)]
    assert [len(getattr(net.features, f"stage{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    assert len(blocks) == 8 and all(torch.all(b.bn2.weight == 1) for b in blocks)  # default
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())  # CIFAR-style stem
    net = build(train_cfg, "resnet18_fer", 3, 48, "model.zero_init_residual=true")
    assert all(torch.all(m.bn2.weight == 0) for m in net.modules() if isinstance(m, BasicBlock))


@pytest.mark.e2e
def test_resnet_conv_init_sets_the_weight_scale(train_cfg):
    """Behind batch norm the weights' norm sets how fast a conv learns (init_convs says why)."""
    kaiming = build(train_cfg, "resnet18_fer", 3, 48, "model.conv_init=kaiming")
    kaiming = kaiming.features.stage4[1].conv1.weight
    torch_own = build(train_cfg, "resnet18_fer")  # the default
    weight = torch_own.features.stage4[1].conv1.weight  # 512 -> 512, 3x3
    assert kaiming.square().sum().item() == pytest.approx(2 * 512, rel=0.02)  # 2 * in_channels
    assert weight.square().sum().item() == pytest.approx(512 / 3, rel=0.02)  # out_channels / 3
    assert weight.abs().max().item() <= 1 / (512 * 9) ** 0.5  # Conv2d's uniform bound
    with pytest.raises(ValueError, match=r"model.conv_init='he' is unknown: use one of kaiming"):
        ResNetFER(conv_init="he")


@pytest.mark.e2e
@pytest.mark.parametrize(("cls", "smallest"), [(VggFER, 16), (ResNetFER, 8), (CompactVGG, 8)])
def test_too_small_input_is_refused(cls, smallest):
    net = cls(in_channels=3, input_size=smallest)
    assert net(torch.zeros(2, 3, smallest, smallest)).shape == (2, 7)
    with pytest.raises(ValueError, match="input_size"):
        cls(input_size=smallest - 1)


# -- the fer_sota recipe ---------------------------------------------------------------------------
def test_fer_sota_composes(train_cfg):
    cfg = train_cfg(["experiment=fer_sota"])
    assert cfg.model._target_ == "fer_lightning.models.ResNetFER"
    assert cfg.model.input_size == 40  # set by aug=tencrop
    assert cfg.aug.name == "tencrop"
    assert (cfg.aug.crop.train, cfg.aug.crop.eval, cfg.aug.crop.size) == ("ten", "ten", 40)
    assert cfg.aug.mixup_alpha > 0 and len(cfg.aug.transforms) == 3  # plus standard's three
    opt = cfg.optimizer
    assert opt._target_ == "torch.optim.SGD" and opt.nesterov is True
    assert (opt.lr, opt.momentum, opt.weight_decay) == (0.1, 0.9, 5.0e-4)
    # A warm-up: at lr 0.1 from the first step the network sat at the class prior.
    assert cfg.scheduler._target_ == "torch.optim.lr_scheduler.OneCycleLR"
    assert (cfg.scheduler.max_lr, cfg.scheduler.interval) == (0.1, "step")
    assert cfg.trainer.max_epochs == 40
    # Validation and checkpoints read averaged weights: the raw ones swung by 17 points as lr rose.
    (ema,) = [c for c in instantiate_all(cfg.callbacks) if isinstance(c, EMA)]
    assert ema._kwargs["multi_avg_fn"].decay == 0.999
    assert (cfg.trainer.accelerator, cfg.trainer.precision) == ("gpu", "bf16-mixed")
    assert cfg.channels_last is True and cfg.data.on_device is True
    assert cfg.data.batch_size == 256
    # Checkpoints are selected on validation carved from Training; PublicTest is the test split.
    data = cfg.data
    assert (data.split, data.val_usage, data.test_usage) == ("usage", None, "PublicTest")
    # The group choices the checkpoint keeps (reports name runs by them).
    choices = run_config(cfg)["choices"]
    assert choices["model"] == "resnet18_fer" and choices["scheduler"] == "onecycle"
    # The factories build on a real optimizer as EmotionClassifier calls them.
    optimizer = instantiate(cfg.optimizer)(params=[nn.Parameter(torch.zeros(1))])
    spec = OmegaConf.to_container(cfg.scheduler, resolve=True)
    spec.pop("interval")  # Lightning's key, kept out of the scheduler's call
    scheduler = instantiate(spec)(optimizer=optimizer, total_steps=100)  # the run's, in the module
    assert isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 25)  # the warm-up's start


def test_fer_sota_sets_label_smoothing(train_cfg):
    """Top-level keys of an experiment only win when train.yaml lists ``_self_`` before it."""
    cfg = train_cfg(["experiment=fer_sota"])
    assert cfg.loss.label_smoothing == 0.1, (
        "train.yaml's own values override the experiment: move `- _self_` above `- experiment`"
    )


def test_fer_sota_plateau_changes_only_the_scheduler(train_cfg):
    sota, plateau = train_cfg(["experiment=fer_sota"]), train_cfg(["experiment=fer_sota_plateau"])
    assert plateau.scheduler._target_ == "torch.optim.lr_scheduler.ReduceLROnPlateau"
    assert run_config(plateau)["choices"]["scheduler"] == "plateau"  # the last one composed
    for key in ("model", "aug", "optimizer", "data", "trainer", "loss"):
        assert plateau[key] == sota[key], key


# -- the fer_sota recipe through the entry point ---------------------------------------------------
@pytest.mark.slow
def test_fer_sota_trains_on_cpu(train_cfg):
    """The recipe's smoke test: ResNet-18 on ten 40 px crops with MixUp, one batch each way."""
    metrics = train(train_cfg([*TINY, "experiment=fer_sota", "data.on_device=false"]))
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert metrics["params"] == PINNED["resnet18_fer", 3, 40]
