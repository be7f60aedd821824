"""How many PyTorch operations one training step of an experiment runs, phase by phase.

On a GPU a small network's step is bound by the host, not the device: each operation costs
Python, the dispatcher and (for most) a kernel launch, whatever its size. `experiment=fer_cpu`
ran 5.3-6.5 s an epoch on an H200 with the GPU under 20% busy (README, "On a GPU"); this counts
where its operations come from. Counts, unlike times, do not depend on what else the machine
runs, so it runs anywhere. It runs on the CPU, where torch's optimizers loop over the tensors
(on a GPU they use foreach kernels: fewer operations there); the other phases run the same
operations on either device:

    python benchmarks/step_ops.py                        # experiment=fer_cpu, batch 128
    python benchmarks/step_ops.py experiment=fer_sota    # any overrides of the train config
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import torch
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict
from torch.optim.swa_utils import AveragedModel
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_lightning.config import register_resolvers
from fer_lightning.data.datamodule import datamodule_from_config
from fer_lightning.training.fit import build_module


class CountOps(TorchDispatchMode):
    """Counts every aten operation run inside it (views and copies included)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def main(argv: list[str]) -> None:
    register_resolvers()
    overrides = argv or ["experiment=fer_cpu"]
    with initialize_config_module("fer_lightning.conf", version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[*overrides, "data=synthetic", "data.synthetic_size=300"],
            return_hydra_config=True,
        )
    with open_dict(cfg):  # the run folder the config's paths resolve to: never written here
        cfg.hydra.runtime.output_dir = tempfile.mkdtemp()
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    datamodule = datamodule_from_config(cfg.data, cfg.aug, cfg.model.num_classes)
    datamodule.setup("fit")
    module = build_module(cfg, datamodule.class_counts("train"))
    optimizer = module.optimizer_factory(params=module.parameters())
    ema = OmegaConf.select(cfg, "callbacks.ema")  # the callback's own AveragedModel arguments
    average = AveragedModel(module, **instantiate(ema)._kwargs) if ema else None
    images = torch.randint(0, 256, (cfg.data.batch_size, 48, 48), dtype=torch.uint8)
    labels = torch.randint(0, cfg.model.num_classes, (cfg.data.batch_size,))
    counts: dict[str, Counter[str]] = {}

    def step() -> int:
        """One training step as Lightning runs it, each phase counted; -> network inputs."""
        with CountOps() as count:
            x, y, soft = datamodule.preprocess(images, labels, True)
        counts["augmentation (on_after_batch_transfer)"] = count.ops
        with CountOps() as count:
            loss, probs, y = module._step((x, y) if soft is None else (x, y, soft))
        counts["forward and loss"] = count.ops
        with CountOps() as count:
            loss.backward()
        counts["backward"] = count.ops
        with CountOps() as count:
            optimizer.step()
            optimizer.zero_grad()
        counts["optimizer step and zero_grad"] = count.ops
        with CountOps() as count:
            module.train_metrics(probs.detach(), y)
        counts["train metrics update"] = count.ops
        if average is not None:
            with CountOps() as count:
                average.update_parameters(module)
            counts["weight average update"] = count.ops
        return x.shape[0]

    module.train()
    step()  # the second step is the one shown: lazily built state exists by then
    inputs = step()
    batch = cfg.data.batch_size
    print(f"{' '.join(overrides)}, batch {batch} ({inputs} network inputs), one step on the CPU:")
    for name, ops in counts.items():
        top = ", ".join(f"{op.removeprefix('aten.')} {n}" for op, n in ops.most_common(3))
        print(f"{name:40s} {sum(ops.values()):6d} ops   most: {top}")
    print(f"{'total':40s} {sum(sum(o.values()) for o in counts.values()):6d} ops")


if __name__ == "__main__":
    main(sys.argv[1:])
