"""The weight average's update per training step: one tensor at a time against foreach kernels.

``experiment=fer_cpu`` updates its EMA after every step. Through torch's ``AveragedModel`` an
``avg_fn`` runs once per tensor (about 60 for CompactVGG: four kernels and, on a GPU, one wait
for the device each); the project's ``multi_avg_fn`` (fer_lightning.callbacks.ema) updates all
of them in a few foreach kernels. Both are timed here side by side, alternating, in one process:

    python benchmarks/ema_update.py                 # the CPU, one thread and all threads
    python benchmarks/ema_update.py --device cuda   # where there is a GPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import Tensor
from torch.optim.swa_utils import AveragedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_lightning.callbacks.ema import EMAWithWarmup
from fer_lightning.models import CompactVGG


def per_tensor(averaged: Tensor, current: Tensor, num_averaged: Tensor) -> Tensor:
    """The same warmed-up EMA as an ``avg_fn``: what the callback did before."""
    n = float(num_averaged)
    decay = min(0.999, (1.0 + n) / (10.0 + n))
    return averaged * decay + current * (1.0 - decay)


def time_updates(model: AveragedModel, net: torch.nn.Module, steps: int, device: str) -> float:
    """Seconds per update, the weights nudged between updates as an optimizer step would."""
    elapsed = 0.0
    for _ in range(steps):
        with torch.no_grad():
            torch._foreach_add_(list(net.parameters()), 1e-4)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.update_parameters(net)
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed += time.perf_counter() - start
    return elapsed / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    net = CompactVGG().to(args.device)
    tensors = len(list(net.parameters())) + len(list(net.buffers()))
    threads = f"{torch.get_num_threads()} threads"
    name = torch.cuda.get_device_name() if args.device == "cuda" else threads
    print(
        f"CompactVGG ({tensors} tensors) on {args.device} ({name}); median of {args.rounds} "
        f"rounds of {args.steps} updates each, the two kinds alternating"
    )
    kinds = {
        "avg_fn, one tensor at a time": AveragedModel(net, avg_fn=per_tensor, use_buffers=True),
        "multi_avg_fn, foreach (ours)": AveragedModel(
            net, multi_avg_fn=EMAWithWarmup(0.999), use_buffers=True
        ),
    }
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for model in kinds.values():  # warm-up; the first update only copies
        time_updates(model, net, 5, args.device)
    for _ in range(args.rounds):
        for kind, model in kinds.items():
            times[kind].append(time_updates(model, net, args.steps, args.device))
    medians = {kind: statistics.median(t) for kind, t in times.items()}
    for kind, median in medians.items():
        print(f"{kind:32s} {median * 1e3:8.3f} ms per update")
    before, ours = medians.values()
    print(f"foreach over per tensor: {before / ours:.1f}x faster")


if __name__ == "__main__":
    main()
