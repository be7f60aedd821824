"""The measurements, one subprocess each: every worker returns a dict that becomes one JSON line."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline_bench.clock import Batch, endless, say, time_input, time_training
from pipeline_bench.inference import worker_inference
from pipeline_bench.ours import network, our_datamodule
from pipeline_bench.plan import PRECISION_NETS, Plan
from pipeline_bench.report_way import report_loader, report_pil_images


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


WORKERS: dict[str, Callable[[argparse.Namespace, Plan], dict[str, Any]]] = {
    "report": worker_report,
    "ours": worker_ours,
    "lightning": worker_lightning,
    "precision": worker_precision,
    "compile": worker_compile,
    "inference": worker_inference,
}
