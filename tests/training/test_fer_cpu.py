"""experiment=fer_cpu: the recipe composes as documented, trains through the entry point, and its
EMA weights are what validation selects, checkpoints hold and the test judges."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.optim.swa_utils import AveragedModel

from fer_lightning.callbacks.ema import EMA, EMAWithWarmup
from fer_lightning.config import instantiate_all
from fer_lightning.eval import evaluate
from fer_lightning.training.fit import train
from tests.helpers.configs import compose_train
from tests.helpers.runs import TINY_RUN


def test_fer_cpu_composes(train_cfg):
    cfg = train_cfg(["experiment=fer_cpu"])
    assert cfg.model._target_ == "fer_lightning.models.CompactVGG"
    assert cfg.model.in_channels == cfg.data.channels == 1  # grey faces, one channel
    assert cfg.aug.name == "fer_cpu" and cfg.aug.tta == "hflip"
    assert (cfg.aug.crop.train, cfg.aug.crop.eval, cfg.aug.crop.size) == (None, "center", 40)
    names = [t._target_.rsplit(".", 1)[1] for t in cfg.aug.transforms.values()]
    assert names == ["RandomAffine", "RandomCrop", "RandomHorizontalFlip", "RandomErasing"]
    opt = cfg.optimizer
    assert opt._target_ == "torch.optim.SGD" and opt.nesterov is True
    assert (opt.lr, opt.momentum, opt.weight_decay) == (0.1, 0.9, 5.0e-4)
    assert cfg.scheduler._target_ == "torch.optim.lr_scheduler.OneCycleLR"
    assert cfg.scheduler.interval == "step" and cfg.scheduler.max_lr == opt.lr
    assert cfg.loss.label_smoothing == 0.1
    assert (cfg.trainer.accelerator, cfg.trainer.precision) == ("cpu", "auto")
    assert cfg.trainer.max_epochs == 60 and cfg.data.batch_size == 128
    data = cfg.data
    assert (data.split, data.val_usage, data.test_usage) == ("usage", None, "PublicTest")
    (ema,) = [c for c in instantiate_all(cfg.callbacks) if isinstance(c, EMA)]
    assert ema._kwargs["multi_avg_fn"].decay == 0.999


def test_fer_cpu_long_is_the_recipe_wider_and_longer(train_cfg):
    base, long = train_cfg(["experiment=fer_cpu"]), train_cfg(["experiment=fer_cpu_long"])
    assert list(long.model.widths) == [48, 96, 192, 384] and long.trainer.max_epochs == 80
    net = instantiate(long.model)
    assert sum(p.numel() for p in net.parameters()) == 2_639_479
    for key in ("aug", "optimizer", "scheduler", "loss", "callbacks", "data"):
        assert long[key] == base[key], key


def test_ema_decay_warms_up():
    """min(decay, (1 + n) / (10 + n)): the first updates follow the network closely."""
    avg = EMAWithWarmup(0.999)
    for n, expected in ((0, 0.9), (90, 0.09), (10**6, 0.001)):
        averaged = [torch.zeros(3), torch.zeros(2, 2)]
        avg(averaged, [torch.ones(3), torch.ones(2, 2)], torch.tensor(n))
        for tensor in averaged:
            torch.testing.assert_close(tensor, torch.full_like(tensor, expected), rtol=1e-4, atol=0)
    counts = [torch.tensor(3)]  # num_batches_tracked: copied, not averaged
    avg(counts, [torch.tensor(7)], torch.tensor(5))
    assert counts[0].item() == 7
    with pytest.raises(ValueError, match="decay"):
        EMAWithWarmup(1.5)


@pytest.mark.e2e
def test_ema_average_matches_the_per_tensor_formula():
    """The foreach update equals decay * average + (1 - decay) * weights, step by step, for a
    real network's parameters and batch-norm buffers through torch's AveragedModel."""
    net = instantiate(OmegaConf.create({"_target_": "fer_lightning.models.CompactVGG"}))
    model = AveragedModel(net, multi_avg_fn=EMAWithWarmup(0.999), use_buffers=True)
    expected = {k: v.clone() for k, v in net.state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    for n in range(30):
        with torch.no_grad():
            for tensor in net.state_dict().values():
                if tensor.is_floating_point():
                    tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.01)
        model.update_parameters(net)
        decay = min(0.999, (1 + n) / (10 + n)) if n else 0.0  # the first update copies
        for key, tensor in net.state_dict().items():
            if tensor.is_floating_point():
                expected[key] = decay * expected[key] + (1 - decay) * tensor
            else:
                expected[key] = tensor.clone()
    for key, tensor in model.module.state_dict().items():
        torch.testing.assert_close(tensor, expected[key], rtol=1e-5, atol=1e-6)


@pytest.mark.e2e
def test_fer_cpu_trains_and_tests_the_averaged_weights(tmp_path):
    """Through the entry point on tiny data: the checkpoint holds the averaged weights apart from
    the network's own, and the test after fit gives what evaluating that checkpoint gives
    (Lightning's callback alone tested the raw weights: a loss that differed)."""
    run = [
        *TINY_RUN,
        "experiment=fer_cpu",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=4",
        "trainer.limit_val_batches=2",
        "trainer.precision=32-true",
    ]
    cfg = compose_train(run, tmp_path / "train")
    metrics = train(cfg)
    assert metrics["params"] == 1_174_439
    (best,) = (tmp_path / "train" / "run" / "checkpoints").glob("epoch*.ckpt")
    saved = torch.load(best, map_location="cpu", weights_only=True)
    averaged, raw = saved["state_dict"], saved["current_model_state"]
    key = "net.features.stage1.conv1.weight"
    assert not torch.allclose(averaged[key], raw[key])
    result = evaluate(
        compose_train([f"ckpt_path={best}", "trainer.precision=32-true"], tmp_path / "e", "eval")
    )
    assert result["test/loss"] == pytest.approx(metrics["test/loss"], abs=1e-5)
    assert result["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)
