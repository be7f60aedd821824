"""The seed report's pipeline against fer_lightning's, measured side by side in one run.

    python benchmarks/bench.py [--csv PATH] [--quick] [--wait-quiet S]

Why a script and not a claim: every speed-up the project states (CSV parse, parse-once cache,
batched input pipeline on the device, channels-last, transparent huge pages) is measured here
against a faithful reimplementation of the report's code, on the same machine, data and run, so
the ratios cannot drift from numbers taken on different days or machines.

The report's way is written out below from its description (it is not imported from anywhere):
pandas per-row ``split`` into float32, a list of PIL images, torchvision's per-image
ColorJitter/ToTensor/Normalize in a ``DataLoader`` (batch 1024, no workers), and the network in
the default (contiguous) memory format. For its network the project's EmoCNN/Emo5CNN stand in:
same layers and parameter counts; the report's ``x.view`` flatten would fail on channels-last, so
its side stays contiguous.

Training throughput runs in one subprocess per side (``--worker report|ours|lightning``), because
``THP_MEM_ALLOC_ENABLE`` must be set (ours) or off (the report's) before torch is imported. Each
worker prints one ``BENCH_JSON {...}`` line on stdout; progress goes to stderr. Both sides use a
plain loop (forward, CrossEntropyLoss, backward, Adam step) in float32, so the comparison isolates
the data pipeline, the memory format and the allocator; one more worker trains ours through a
real ``lightning.Trainer`` to show what Lightning itself costs. The table goes to stdout and to
``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results.md"
DEFAULT_CSV = REPO / ".." / "shared" / "data" / "fer2013" / "fer2013_dev.csv.gz"
ROWS = 32_298  # rows of the shared development CSV; the synthetic stand-in has as many
TRAIN_ROWS = 28_709  # its Training rows (the rest PublicTest), as in FER2013
BATCH = 1024
JSON_TAG = "BENCH_JSON "
WORKER_TIMEOUT_S = 1200
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


@dataclass(frozen=True)
class Plan:
    """How many batches each measurement runs: sized for ~10 minutes on a 2-core CPU."""

    report_input_warmup: int
    ours_input_warmup: int
    report_input_batches: int
    ours_input_batches: int
    input_rounds: int
    warmup: dict[str, int]
    steps: dict[str, int]
    cached_repeats: int
    precision_rounds: int
    precision_steps: dict[str, tuple[int, int]]  # (warm-up, timed) steps per round


def make_plan(quick: bool) -> Plan:
    """The full plan, or (``--quick``) half of every timed count, rounded up."""
    steps = {"emo1": 8, "emo5": 4}
    # Ours takes ~8 ms a batch, and the first ~60-80 batches of a process run at half speed:
    # glibc's malloc raises its mmap threshold only gradually, so until then every batch's
    # 9 MB buffers are fresh pages (checked: with mallopt fixing the threshold the rate is
    # steady from batch 16). A training run is past that in a second; time the steady state.
    report_input, ours_input = 8, 128
    if quick:
        steps = {k: math.ceil(v / 2) for k, v in steps.items()}
        report_input, ours_input = report_input // 2, ours_input // 2
    return Plan(
        report_input_warmup=2,
        ours_input_warmup=96,
        report_input_batches=report_input,
        ours_input_batches=ours_input,
        input_rounds=4 if not quick else 2,
        warmup={"emo1": 2, "emo5": 1},
        steps=steps,
        cached_repeats=3,
        precision_rounds=2,
        precision_steps={
            name: (w, math.ceil(n / 2) if quick else n)
            for name, (w, n) in {"emo1": (1, 6), "emo5": (1, 3), "compact_vgg": (3, 24)}.items()
        },
    )


# -- the report's way, reimplemented from its description -------------------------------------
def report_load(csv: Path) -> tuple[np.ndarray, np.ndarray]:
    """The report's load: pandas, then every row split and converted to float32 on its own."""
    import pandas as pd

    df = pd.read_csv(csv)
    img_array = df.pixels.apply(lambda x: np.array(x.split(" ")).reshape(48, 48).astype("float32"))
    img_array = np.stack(img_array, axis=0)
    label_array = df.emotion.values
    return img_array, label_array


def report_pil_images(img_array: np.ndarray) -> list[Any]:
    """As written: ``fromarray`` of float32 gives mode 'F'; ``convert('RGB')`` clips to 0..255
    and truncates, which on FER2013's integer pixels is the grey value in all three channels."""
    from PIL import Image

    return [Image.fromarray(image).convert("RGB") for image in img_array]


def report_loader(pil_images: list[Any], labels: np.ndarray, jitter: bool = True) -> Any:
    """The report's per-image torchvision transforms in a DataLoader (batch 1024, no workers).

    ``jitter=False`` drops the ColorJitter: a diagnostic, to see the pipeline's own cost.
    """
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    class CustomDataset(Dataset):
        def __init__(self, images: list[Any], labels: np.ndarray, transform: Any) -> None:
            self.images, self.labels, self.transform = images, labels, transform

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, idx: int) -> tuple[Any, Any]:
            return self.transform(self.images[idx]), self.labels[idx]

    tf = transforms.Compose(
        [
            transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.5], std=[0.5]),
        ][0 if jitter else 1 :]
    )
    dataset = CustomDataset(pil_images, labels, transform=tf)
    return DataLoader(dataset, batch_size=BATCH, shuffle=True)


# -- shared by the workers --------------------------------------------------------------------
def endless(loader: Any) -> Iterator[Any]:
    """Batches across epochs, so a count of steps never runs out of data."""
    while True:
        yield from loader


def aug_config(name: str = "colorjitter") -> dict[str, Any]:
    """The project's ``aug=NAME`` group (over ``aug/none``) as a plain dict."""
    from omegaconf import OmegaConf

    conf = REPO / "conf" / "aug"
    group = OmegaConf.load(conf / f"{name}.yaml")
    group.pop("defaults", None)
    merged = OmegaConf.merge(OmegaConf.load(conf / "none.yaml"), group)
    return OmegaConf.to_container(merged, resolve=True)  # type: ignore[return-value]


def our_datamodule(
    csv: str, cache_dir: str, batch: int = BATCH, aug: str = "colorjitter", channels: int = 3
) -> Any:
    """Ours as training uses it: cached uint8 faces, ColorJitter on the batch, channels-last."""
    from fer_lightning.data.augment import build_augmentation
    from fer_lightning.data.datamodule import FERDataModule

    return FERDataModule(
        path=csv,
        batch_size=batch,
        cache_dir=cache_dir,
        channels=channels,
        channels_last=True,
        augmentation=build_augmentation(aug_config(aug)),
    )


def network(name: str, channels_last: bool) -> Any:
    """emo1/emo5 (or fer_cpu's compact_vgg), seeded so both sides start from the same weights."""
    import torch

    from fer_lightning.models.compact_vgg import CompactVGG
    from fer_lightning.models.seed_cnns import Emo5CNN, EmoCNN

    torch.manual_seed(0)
    net = {"emo1": EmoCNN, "emo5": Emo5CNN, "compact_vgg": CompactVGG}[name]()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net.train()


def huge_pages_mb() -> float:
    """Anonymous memory of this process backed by transparent huge pages, in MB."""
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


Batch = tuple[Any, Any]


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


def environment() -> dict[str, Any]:
    import torch

    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "thp_env": os.environ.get("THP_MEM_ALLOC_ENABLE"),
        "huge_pages_mb": huge_pages_mb(),
    }


# -- workers ----------------------------------------------------------------------------------
def worker_report(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """The report's side: float32 array -> PIL images -> per-image transforms -> contiguous net."""
    images, labels = np.load(args.array), np.load(args.labels)
    start = time.perf_counter()
    pil_images = report_pil_images(images)
    pil_s = time.perf_counter() - start
    del images
    say(f"[report] {len(pil_images):,} PIL images in {pil_s:.1f} s")
    loader = report_loader(pil_images, labels)
    batches = endless(loader)
    result: dict[str, Any] = {"pil_s": pil_s}
    result["input_images_per_s"] = time_input(
        lambda: next(batches),
        plan.report_input_warmup,
        plan.report_input_batches,
        plan.input_rounds,
    )
    say(f"[report] input pipeline {result['input_images_per_s']:,.0f} images/s")
    plain = endless(report_loader(pil_images, labels, jitter=False))
    result["input_plain_images_per_s"] = time_input(
        lambda: next(plain), plan.report_input_warmup, plan.report_input_batches, plan.input_rounds
    )
    say(f"[report] input pipeline without jitter {result['input_plain_images_per_s']:,.0f}")
    for name in ("emo1", "emo5"):
        batches = endless(loader)
        result[name] = time_training(
            network(name, channels_last=False),
            lambda: next(batches),  # noqa: B023 -- used within this iteration only
            plan.warmup[name],
            plan.steps[name],
            f"report {name}",
        )
    return result


def worker_ours(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """Our side: cached uint8 faces, whole-batch gathers, ``preprocess`` on the batch."""
    from fer_lightning.data.augment import Augmentation

    dm = our_datamodule(args.csv, args.cache_dir)
    loader = dm.train_dataloader()
    say(f"[ours] {len(dm.dataset('train')):,} training faces from the cache")

    def next_batch() -> Batch:
        images, labels = next(batches)
        x, y, _soft = dm.preprocess(images, labels, train=True)
        return x, y

    batches = endless(loader)
    result: dict[str, Any] = {
        "input_images_per_s": time_input(
            next_batch, plan.ours_input_warmup, plan.ours_input_batches, plan.input_rounds
        )
    }
    say(f"[ours] input pipeline {result['input_images_per_s']:,.0f} images/s")
    jitter, dm.augmentation = dm.augmentation, Augmentation()
    result["input_plain_images_per_s"] = time_input(
        next_batch, plan.ours_input_warmup, plan.ours_input_batches, plan.input_rounds
    )
    dm.augmentation = jitter
    say(f"[ours] input pipeline without jitter {result['input_plain_images_per_s']:,.0f}")
    for name in ("emo1", "emo5"):
        batches = endless(loader)
        net = network(name, channels_last=True)
        result[name] = time_training(
            net, next_batch, plan.warmup[name], plan.steps[name], f"ours {name}"
        )
    return result


def worker_lightning(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """Ours through a real ``lightning.Trainer`` fit of EmotionClassifier (emo1)."""
    import functools
    import logging
    import warnings

    import lightning as L
    import torch

    from fer_lightning.training.module import EmotionClassifier

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner on stdout
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\).*")
    warmup, steps = plan.warmup["emo1"], plan.steps["emo1"]

    class StepClock(L.Callback):
        """When each training batch ended, and how many faces it held."""

        def __init__(self) -> None:
            self.ends: list[float] = []
            self.sizes: list[int] = []

        def on_train_batch_end(
            self, trainer: Any, module: Any, outputs: Any, batch: Any, i: int
        ) -> None:
            self.ends.append(time.perf_counter())
            self.sizes.append(len(batch[0]))
            say(f"[lightning emo1] step {len(self.ends)}/{warmup + steps}")

    clock = StepClock()
    module = EmotionClassifier(
        net=network("emo1", channels_last=True),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
    )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=warmup + steps,
        logger=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    trainer.fit(module, datamodule=our_datamodule(args.csv, args.cache_dir))
    # From the end of the last warm-up step to the end of the last step: `steps` whole steps,
    # each with its batch fetch, transfer hook (preprocess), forward, backward and optimizer.
    images = sum(clock.sizes[warmup:])
    return {
        "emo1": {
            "images_per_s": images / (clock.ends[-1] - clock.ends[warmup - 1]),
            "steps": len(clock.ends) - warmup,
            "warmup": warmup,
        }
    }


# The networks of the fp32/bf16 rows: (batch, aug group, input channels) as their runs train them.
PRECISION_NETS = {
    "emo1": (BATCH, "colorjitter", 3),
    "emo5": (BATCH, "colorjitter", 3),
    "compact_vgg": (128, "fer_cpu", 1),
}


def worker_precision(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """Our training step in float32 against bf16 autocast, alternating rounds in one process.

    Alternating (fp32, bf16, fp32, bf16) and taking each precision's median, so a slow spell of
    a shared machine falls on both sides; each round its own warm-up (oneDNN builds kernels per
    data type and shape on first use)."""
    result: dict[str, Any] = {}
    for name, (batch, aug, channels) in PRECISION_NETS.items():
        dm = our_datamodule(args.csv, args.cache_dir, batch, aug, channels)
        batches = endless(dm.train_dataloader())

        def next_batch() -> Batch:
            images, labels = next(batches)  # noqa: B023 -- used within this iteration only
            x, y, _soft = dm.preprocess(images, labels, train=True)  # noqa: B023
            return x, y

        warmup, steps = plan.precision_steps[name]
        rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for _ in range(plan.precision_rounds):
            for precision in rates:
                timed = time_training(
                    network(name, channels_last=True),
                    next_batch,
                    warmup,
                    steps,
                    f"{precision} {name}",
                    bf16=precision == "bf16",
                )
                rates[precision].append(timed["images_per_s"])
        say(f"[precision {name}] " + "; ".join(f"{k} {v}" for k, v in rates.items()))
        result[name] = {k: statistics.median(v) for k, v in rates.items()} | {
            "rounds": rates,
            "batch": batch,
        }
    return result


def worker_compile(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """fer_cpu's network eager against ``torch.compile``d, in the precision ``auto`` picks here:
    the compile time, both step rates, and after how many steps compiling pays back."""
    import torch

    from fer_lightning.runs.machine import native_bf16_cpu

    bf16 = native_bf16_cpu() is not None
    batch, aug, channels = PRECISION_NETS["compact_vgg"]
    dm = our_datamodule(args.csv, args.cache_dir, batch, aug, channels)
    batches = endless(dm.train_dataloader())

    def next_batch() -> Batch:
        images, labels = next(batches)
        x, y, _soft = dm.preprocess(images, labels, train=True)
        return x, y

    warmup, steps = plan.precision_steps["compact_vgg"]
    eager = time_training(
        network("compact_vgg", True), next_batch, warmup, steps, "eager", bf16=bf16
    )
    compiled_net = torch.compile(network("compact_vgg", True))
    first = time_training(compiled_net, next_batch, 0, 1, "compile", bf16=bf16)
    compiled = time_training(compiled_net, next_batch, warmup, steps, "compiled", bf16=bf16)
    # The first compiled step compiles forward and backward: its excess over a compiled step.
    compile_s = first["step_s"] - compiled["step_s"]
    saved_per_step = eager["step_s"] - compiled["step_s"]
    return {
        "precision": "bf16-mixed" if bf16 else "32-true",
        "eager": eager["images_per_s"],
        "compiled": compiled["images_per_s"],
        "compile_s": compile_s,
        "break_even_steps": compile_s / saved_per_step if saved_per_step > 0 else None,
    }


def compile_table(result: dict[str, Any] | None) -> list[str]:
    steps = pick(result, "break_even_steps")
    return [
        "",
        f"### torch.compile on this CPU: compact_vgg (batch 128, fer_cpu), "
        f"{pick(result, 'precision')}",
        "",
        row("eager (images/s)", "compiled (images/s)", "compile time", "pays back after"),
        row("---", "---", "---", "---"),
        row(
            fmt_rate(pick(result, "eager")),
            fmt_rate(pick(result, "compiled")),
            fmt_s(pick(result, "compile_s")),
            "never (no faster)" if steps is None else f"{steps:,.0f} steps",
        ),
        "",
        f"A fer_cpu run is {60 * 202:,} steps (60 epochs of 202). "
        f"CPU taken by other processes: {fmt_pct(pick(result, 'others_cpu'))}.",
    ]


WORKERS: dict[str, Callable[[argparse.Namespace, Plan], dict[str, Any]]] = {
    "report": worker_report,
    "ours": worker_ours,
    "lightning": worker_lightning,
    "precision": worker_precision,
    "compile": worker_compile,
}
WORKER_THP = {"report": "0", "ours": "1", "lightning": "1", "precision": "1", "compile": "1"}


def run_worker(name: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any] | None:
    """Start ``--worker name`` with its THP setting fixed before torch loads; its JSON or None."""
    env = dict(os.environ, THP_MEM_ALLOC_ENABLE=WORKER_THP[name], FER_BENCH_T0=str(START))
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name, *extra]
    if args.quick:
        command.append("--quick")
    wait_quiet(args.wait_quiet)
    say(f"worker {name} (THP_MEM_ALLOC_ENABLE={WORKER_THP[name]}) ...")
    start, watch = time.perf_counter(), CpuWatch()
    try:
        done = subprocess.run(
            command,
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            timeout=WORKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        say(f"worker {name} ran past {WORKER_TIMEOUT_S} s: left out")
        return None
    lines = [line for line in done.stdout.splitlines() if line.startswith(JSON_TAG)]
    if done.returncode != 0 or not lines:
        say(f"worker {name} failed (exit {done.returncode}): left out")
        return None
    result = json.loads(lines[-1][len(JSON_TAG) :])
    result["others_cpu"] = watch.others()
    say(f"worker {name} done in {time.perf_counter() - start:.0f} s{busy(result['others_cpu'])}")
    return result


def measure(name: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any] | None:
    """One worker; with ``--wait-quiet``, once more if other processes disturbed it."""
    result = run_worker(name, args, extra)
    if args.wait_quiet and result and (result["others_cpu"] or 0) >= 0.05:
        say(f"worker {name} was disturbed: running it once more")
        again = run_worker(name, args, extra)
        if again and (again["others_cpu"] or 0) < (result["others_cpu"] or 0):
            result = again
    return result


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


# -- data -------------------------------------------------------------------------------------
def write_synthetic_csv(path: Path, rows: int = ROWS) -> None:
    """The built-in faces in the Kaggle format (emotion,pixels,Usage), gzipped like the real one."""
    from fer_lightning.data.synthetic import generate_faces

    images, labels = generate_faces(rows, seed=0)
    n_train = round(rows * TRAIN_ROWS / ROWS)
    with gzip.open(path, "wt", compresslevel=1, newline="") as f:
        f.write("emotion,pixels,Usage\n")
        for i, (image, label) in enumerate(zip(images.reshape(rows, -1), labels, strict=True)):
            usage = "Training" if i < n_train else "PublicTest"
            f.write(f"{label},{' '.join(map(str, image.tolist()))},{usage}\n")


def choose_data(args: argparse.Namespace, tmp: Path) -> tuple[Path, str]:
    """The CSV to use and how to describe it: --csv, the shared real CSV, or synthetic faces."""
    if args.csv:
        path = Path(args.csv).expanduser().resolve()
        if not path.is_file():
            sys.exit(f"error: no CSV at {path}")
        return path, f"`{path.name}` (given with --csv)"
    if DEFAULT_CSV.is_file():
        path = DEFAULT_CSV.resolve()
        return path, f"`{path.name}` (real FER2013 pixels, the shared development CSV)"
    path = tmp / "synthetic_fer2013.csv.gz"
    say(f"no {DEFAULT_CSV}: writing {ROWS:,} synthetic faces to {path} ...")
    write_synthetic_csv(path)
    return path, "synthetic faces (`generate_faces`, seed 0) in the Kaggle format, gzipped"


def cpu_model() -> str:
    from fer_lightning.runs.machine import cpu_name

    return cpu_name()


# -- the table --------------------------------------------------------------------------------
def fmt_s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def fmt_rate(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:,.0f}"


def fmt_pct(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def fmt_ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or den == 0:
        return "n/a"
    return f"**{num / den:.1f}x**" if num / den >= 10 else f"**{num / den:.2f}x**"


def pick(result: dict[str, Any] | None, *keys: str) -> Any:
    """``result[k1][k2]...`` or None where a worker failed."""
    for key in keys:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def build_report(
    header: list[str], loads: dict[str, Any], workers: dict[str, Any], plan: Plan
) -> str:
    """The Markdown header, table and notes."""
    rep, ours, light = workers.get("report"), workers.get("ours"), workers.get("lightning")
    parse, parsed, cached = loads["report_parse"], loads["ours_parse"], loads["ours_cached"]
    rows = [
        row("what", "report's way", "ours", "ratio"),
        row("---", "---", "---", "---"),
        row(
            "load CSV, cold: parse all rows", fmt_s(parse), fmt_s(parsed), fmt_ratio(parse, parsed)
        ),
        row(
            "load CSV, cached: parse-once cache, 2nd call",
            f"{fmt_s(parse)} (no cache)",
            fmt_s(cached),
            fmt_ratio(parse, cached),
        ),
        row("report's extra load step: list of PIL images", fmt_s(pick(rep, "pil_s")), "none", "-"),
    ]
    for key, what in (
        ("input_images_per_s", f"input pipeline with ColorJitter, batch {BATCH} (images/s)"),
        ("input_plain_images_per_s", "(diagnostic) input pipeline without ColorJitter (images/s)"),
    ):
        r, o = pick(rep, key), pick(ours, key)
        rows.append(row(what, fmt_rate(r), fmt_rate(o), fmt_ratio(o, r)))
    for name in ("emo1", "emo5"):
        r, o = pick(rep, name, "images_per_s"), pick(ours, name, "images_per_s")
        what = f"train step {name}, end to end, batch {BATCH} (images/s)"
        rows.append(row(what, fmt_rate(r), fmt_rate(o), fmt_ratio(o, r)))
    lit, plain = pick(light, "emo1", "images_per_s"), pick(ours, "emo1", "images_per_s")
    of_plain = "" if lit is None or plain is None else f" ({100 * lit / plain:.0f}% of our loop)"
    rep1 = pick(rep, "emo1", "images_per_s")
    rows.append(
        row(
            "train emo1 through `lightning.Trainer` (images/s)",
            f"{fmt_rate(rep1)} (plain loop)",
            fmt_rate(lit) + of_plain,
            fmt_ratio(lit, rep1),
        )
    )
    for name in ("emo1", "emo5"):
        rows.append(
            row(
                f"data share of the {name} step: (batch + preprocess) / step",
                fmt_pct(pick(rep, name, "data_share")),
                fmt_pct(pick(ours, name, "data_share")),
                "-",
            )
        )
    threads = ", ".join(f"{side} {pick(w, 'env', 'threads')}" for side, w in workers.items() if w)
    thp = ", ".join(
        f"{side} {pick(workers.get(side), 'env', 'huge_pages_mb') or 0:.0f} MB"
        for side in ("report", "ours")
        if workers.get(side)
    )
    others = {"loads": loads.get("others_cpu")} | {
        name: pick(w, "others_cpu") for name, w in workers.items()
    }
    notes = [
        "",
        "Notes:",
        f"- Both sides: float32, torch's default thread count ({threads}), the same seeded "
        "initial weights, a plain loop (forward, CrossEntropyLoss, backward, Adam lr 1e-3), "
        "each side in its own process. Ratios: report/ours for seconds, ours/report for rates.",
        "- Report's way, reimplemented from its description: pandas + per-row `split` into "
        "float32, a list of PIL images (`fromarray(float32).convert('RGB')`), torchvision "
        "per-image ColorJitter/ToTensor/Normalize in a `DataLoader` (batch 1024, shuffle, no "
        "workers), THP_MEM_ALLOC_ENABLE=0, network contiguous: its `x.view` flatten fails on "
        "channels-last. The project's EmoCNN/Emo5CNN stand in for its networks (identical "
        "layers and parameter counts).",
        "- Ours: `read_fer_csv` (cold), `load_faces(cache_dir=...)` (cached), `FERDataModule` "
        "batches + `preprocess(train=True)` with kornia ColorJitter (`aug=colorjitter`), "
        "channels-last network and input, THP_MEM_ALLOC_ENABLE=1 "
        f"(huge-page-backed memory at the end: {thp}).",
        f"- Timed after warm-up: input {plan.report_input_batches} batches after "
        f"{plan.report_input_warmup} (report), {plan.ours_input_batches} after "
        f"{plan.ours_input_warmup} (ours), the median of {plan.input_rounds} rounds; training "
        + ", ".join(f"{k} {plan.steps[k]} steps after {plan.warmup[k]}" for k in plan.steps)
        + ". Loads read a CSV already in the OS page cache; ours cached is the median of "
        f"{plan.cached_repeats} calls after the one that wrote the cache "
        f"({loads['ours_cache_write']:.2f} s). Data share: time to get the batch from the "
        "loader (plus `preprocess` for ours) over the whole step.",
        "- CPU taken by other processes while measuring (the machine is shared): "
        + ", ".join(f"{name} {fmt_pct(v)}" for name, v in others.items())
        + ". Above ~5% the numbers are disturbed: rerun on a quiet machine.",
    ]
    if not loads.get("same_pixels", True):
        notes.append("- WARNING: the two parsers gave different pixels.")
    precision = precision_table(workers.get("precision"), plan)
    compiled = compile_table(workers.get("compile"))
    return "\n".join([*header, "", *rows, *notes, *precision, *compiled]) + "\n"


def precision_table(result: dict[str, Any] | None, plan: Plan) -> list[str]:
    """Our training step in fp32 against bf16 autocast, with the CPU's bf16 support."""
    from fer_lightning.runs.machine import native_bf16_cpu

    flag = native_bf16_cpu()
    support = f"native ({flag})" if flag else "none native (no AVX512-BF16 or AMX): emulated"
    lines = [
        "",
        "### Training step: float32 against bf16 autocast (ours)",
        "",
        f"CPU: {cpu_model()}; bf16: {support}. `trainer.precision=auto` picks "
        f"bf16-mixed {'here' if flag else 'only on a CPU with native bf16; here 32-true'}.",
        "",
        row("network (batch, aug)", "fp32 (images/s)", "bf16 autocast (images/s)", "bf16 / fp32"),
        row("---", "---", "---", "---"),
    ]
    for name, (batch, aug, _channels) in PRECISION_NETS.items():
        fp32, bf16 = pick(result, name, "fp32"), pick(result, name, "bf16")
        lines.append(
            row(f"{name} ({batch}, {aug})", fmt_rate(fp32), fmt_rate(bf16), fmt_ratio(bf16, fp32))
        )
    steps = ", ".join(f"{k} {n} after {w}" for k, (w, n) in plan.precision_steps.items())
    lines += [
        "",
        f"Plain loop as above (Adam), channels-last, our input pipeline; {plan.precision_rounds} "
        f"alternating rounds of each precision, the median; steps per round: {steps}. "
        f"CPU taken by other processes: {fmt_pct(pick(result, 'others_cpu'))}.",
    ]
    return lines


# -- main -------------------------------------------------------------------------------------
def measure_loads(csv: Path, tmp: Path) -> dict[str, Any]:
    """Rows 1-2 in this process: the report's parse against ours, cold and cached."""
    from fer_lightning.data.csv_source import read_fer_csv
    from fer_lightning.data.sources import load_faces

    csv.read_bytes()  # both parsers then find the file in the OS page cache
    watch = CpuWatch()
    say("report's load: pandas + per-row split into float32 ...")
    start = time.perf_counter()
    img_array, label_array = report_load(csv)
    report_parse = time.perf_counter() - start
    say(f"report's load: {report_parse:.1f} s for {len(img_array):,} rows")
    np.save(tmp / "report_images.npy", img_array)
    np.save(tmp / "report_labels.npy", label_array)

    start = time.perf_counter()
    faces = read_fer_csv(csv)
    ours_parse = time.perf_counter() - start
    rows = len(faces)
    same = rows == len(img_array) and np.array_equal(faces.images, img_array)
    say(f"our load (read_fer_csv): {ours_parse:.2f} s; same pixels: {same}")
    del img_array, label_array, faces

    cache = tmp / "cache"
    start = time.perf_counter()
    load_faces("csv", csv, cache_dir=cache)
    cache_write = time.perf_counter() - start
    times = []
    for _ in range(3):
        start = time.perf_counter()
        load_faces("csv", csv, cache_dir=cache)
        times.append(time.perf_counter() - start)
    say(f"our cached load: {statistics.median(times):.3f} s (first call {cache_write:.2f} s)")
    others = watch.others()
    if busy(others):
        say(f"loads{busy(others)}")
    return {
        "others_cpu": others,
        "report_parse": report_parse,
        "ours_parse": ours_parse,
        "ours_cached": statistics.median(times),
        "ours_cache_write": cache_write,
        "same_pixels": same,
        "rows": rows,
    }


def main(args: argparse.Namespace) -> None:
    plan = make_plan(args.quick)
    with tempfile.TemporaryDirectory(prefix="fer_bench_") as tmp_name:
        tmp = Path(tmp_name)
        csv, data = choose_data(args, tmp)
        wait_quiet(args.wait_quiet)
        if args.only:  # the workers read the parse-once cache
            from fer_lightning.data.sources import load_faces

            load_faces("csv", csv, cache_dir=tmp / "cache")
        else:
            loads = measure_loads(csv, tmp)
        extra = [
            "--csv",
            str(csv),
            "--cache-dir",
            str(tmp / "cache"),
            "--array",
            str(tmp / "report_images.npy"),
            "--labels",
            str(tmp / "report_labels.npy"),
        ]
        if args.only == "precision":
            print("\n".join(precision_table(measure("precision", args, extra), plan)))
            return
        if args.only == "compile":
            print("\n".join(compile_table(measure("compile", args, extra))))
            return
        workers = {name: measure(name, args, extra) for name in WORKERS}
    env = next((w["env"] for w in workers.values() if w), {})
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    header = [
        "## Benchmark: the report's way against ours" + (" (--quick)" if args.quick else ""),
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; torch {env.get('torch', '?')}, "
        f"{env.get('threads', '?')} torch threads (the default, both sides); {when}.",
        f"Data: {data}, {loads['rows']:,} rows.",
    ]
    report = build_report(header, loads, workers, plan)
    print(report)
    RESULTS.write_text(report)
    say(f"table written to {RESULTS}; total {time.time() - START:.0f} s")


def worker_main(args: argparse.Namespace) -> None:
    plan = make_plan(args.quick)
    result = WORKERS[args.worker](args, plan)
    result["env"] = environment()
    print(JSON_TAG + json.dumps(result), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="a FER2013 CSV (default: the shared dev CSV, or synthetic)")
    parser.add_argument("--quick", action="store_true", help="half the timed batches and steps")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S s for an idle CPU before each part; rerun a disturbed part once",
    )
    parser.add_argument(
        "--only",
        choices=["precision", "compile"],
        help="measure only this part and print it (results.md is left as it is)",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--array", help=argparse.SUPPRESS)
    parser.add_argument("--labels", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        worker_main(arguments)
    else:
        main(arguments)
