"""Timing on a shared machine: progress lines, other processes' CPU share, the timed loops."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

START = float(os.environ.get("FER_BENCH_T0", time.time()))  # workers share the main clock


def say(message: str) -> None:
    """Progress on stderr, with the seconds since the benchmark started."""
    print(f"[bench {time.time() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


class CpuWatch:
    """How much CPU other processes took while we measured (this machine is shared).

    From /proc/stat (all busy time) minus this process's and its children's CPU time, as a
    share of the machine's capacity over the interval; None where /proc/stat is missing.
    """

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system, irq softirq steal
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        return busy / os.sysconf("SC_CLK_TCK"), own, time.monotonic()

    def others(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[2] <= self.start[2]:
            return None
        busy, own, wall = (e - s for e, s in zip(end, self.start, strict=True))
        return max(0.0, busy - own) / (wall * (os.cpu_count() or 1))


def wait_quiet(limit_s: float) -> None:
    """Wait, at most ``limit_s``, until other processes leave the CPU alone for 5 s."""
    if limit_s <= 0:
        return
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        watch = CpuWatch()
        time.sleep(5)
        share = watch.others()
        if share is None or share < 0.05:
            return
        say(f"other processes use {100 * share:.0f}% of the CPU: waiting for quiet")
    say("the CPU stayed busy: measuring anyway")


def busy(share: float | None) -> str:
    """A warning when other processes took a noticeable share of the CPU."""
    if share is None or share < 0.05:
        return ""
    return f" -- other processes used {100 * share:.0f}% of the CPU meanwhile: numbers disturbed"


def huge_pages_mb() -> float:
    """Anonymous memory of this process backed by transparent huge pages, in MB."""
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def environment() -> dict[str, Any]:
    import torch

    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "thp_env": os.environ.get("THP_MEM_ALLOC_ENABLE"),
        "huge_pages_mb": huge_pages_mb(),
    }


Batch = tuple[Any, Any]


def endless(loader: Any) -> Iterator[Any]:
    """Batches across epochs, so a count of steps never runs out of data."""
    while True:
        yield from loader


def time_input(next_batch: Callable[[], Batch], warmup: int, batches: int, rounds: int) -> float:
    """Images per second of ``next_batch`` alone: the median of ``rounds`` timed rounds that
    share ``batches``, after ``warmup`` untimed batches. A median, because one round slowed by
    another process on a shared machine would otherwise swing the rate (it did: 53k-116k)."""
    for _ in range(warmup):
        next_batch()
    rates = []
    for _ in range(rounds):
        images, start = 0, time.perf_counter()
        for _ in range(max(1, batches // rounds)):
            x, _y = next_batch()
            images += len(x)
        rates.append(images / (time.perf_counter() - start))
    say(f"input rounds: {', '.join(f'{r:,.0f}' for r in rates)} images/s")
    return statistics.median(rates)


def time_training(
    net: Any,
    next_batch: Callable[[], Batch],
    warmup: int,
    steps: int,
    tag: str,
    bf16: bool = False,
) -> dict[str, float]:
    """The plain loop both sides share: batch, forward, cross-entropy, backward, Adam step.

    ``bf16``: forward and loss under ``torch.autocast("cpu", bfloat16)``, as Lightning's
    ``precision=bf16-mixed`` runs them (weights and optimizer stay float32)."""
    import torch

    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    images, data_s, total_s = 0, 0.0, 0.0
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        x, y = next_batch()
        t1 = time.perf_counter()
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        t2 = time.perf_counter()
        timed = step >= warmup
        say(
            f"[{tag}] step {step + 1}/{warmup + steps}{'' if timed else ' (warm-up)'}: "
            f"{t2 - t0:.2f} s, data {t1 - t0:.3f} s, loss {loss.item():.3f}"
        )
        if timed:
            images += len(x)
            data_s += t1 - t0
            total_s += t2 - t0
    return {
        "images_per_s": images / total_s,
        "data_share": data_s / total_s,
        "step_s": total_s / steps,
        "steps": steps,
        "warmup": warmup,
    }
