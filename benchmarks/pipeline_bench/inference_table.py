"""The Markdown of the inference rows: faces/s per engine and batch, photos/s end to end."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from pipeline_bench.inference import BATCHES, PHOTO_SIZE, WARMUP_CALLS
from pipeline_bench.tables import cpu_model, fmt_pct, fmt_rate, fmt_ratio, pick, row

# Issue 30's goals on two cores.
GOAL_FACES_PER_S = 2000
GOAL_PHOTOS_PER_S = 50
ENGINES = {
    "PyTorch fp32": "PyTorch fp32 (`precision=32`)",
    "PyTorch bf16": "PyTorch bf16 autocast (`precision=bf16`)",
    "ONNX Runtime fp32": "ONNX Runtime fp32 (the exported model, views inside)",
    "fp32 unfolded": "(diagnostic) PyTorch fp32, batch norms not folded",
    "bf16 unfolded": "(diagnostic) PyTorch bf16 autocast, batch norms not folded",
}


def fmt_speed(rate: float | None) -> str:
    """Whole numbers, but a tenth where a rate is small enough for it to matter."""
    if rate is None or rate >= 100:
        return fmt_rate(rate)
    return f"{rate:.1f}"


def bf16_support() -> str:
    from fer_lightning.runs.machine import native_bf16_cpu

    flag = native_bf16_cpu()
    return f"native ({flag})" if flag else "emulated (no AVX512-BF16 or AMX): bf16 row left out"


def face_rows(result: dict[str, Any] | None) -> list[str]:
    big = max(BATCHES)
    lines = [
        row(
            "engine",
            *(f"batch {n} (faces/s)" for n in BATCHES),
            f"batch {big} against PyTorch fp32",
        ),
        row(*["---"] * (len(BATCHES) + 2)),
    ]
    base = pick(result, "faces", f"PyTorch fp32 {big}")
    for engine, what in ENGINES.items():
        rates = [pick(result, "faces", f"{engine} {n}") for n in BATCHES]
        if result and all(r is None for r in rates):
            continue  # bf16 on a CPU without native bf16
        lines.append(row(what, *map(fmt_speed, rates), fmt_ratio(rates[-1], base)))
    return lines


def photo_rows(result: dict[str, Any] | None) -> list[str]:
    lines = [
        row("input", "photos/s", "ms a photo", "face detection", "network", "the rest"),
        row(*["---"] * 6),
    ]
    for kind, what in (("RGB array", "RGB array"), ("JPEG file", "JPEG file (decoding included)")):
        rate = pick(result, "photos", kind, "rate")
        detection = pick(result, "photos", kind, "detection")
        network = pick(result, "photos", kind, "network")
        rest = None if detection is None or network is None else 1 - detection - network
        ms = "n/a" if not rate else f"{1000 / rate:.1f}"
        lines.append(
            row(what, fmt_speed(rate), ms, fmt_pct(detection), fmt_pct(network), fmt_pct(rest))
        )
    return lines


def goals(result: dict[str, Any] | None) -> str:
    """What the shipped paths reached against the goals (diagnostic rows are not shipped)."""
    big = max(BATCHES)
    shipped = ("PyTorch fp32", "PyTorch bf16", "ONNX Runtime fp32")
    batched = {e: pick(result, "faces", f"{e} {big}") for e in shipped}
    batched = {e: r for e, r in batched.items() if r is not None}
    best = max(batched, key=lambda e: batched[e]) if batched else None
    reached = f"{fmt_rate(batched[best])} faces/s batched ({best})" if best else "n/a batched"
    photos = pick(result, "photos", "RGB array", "rate")
    return (
        f"Goals on 2 cores (issue 30): {GOAL_FACES_PER_S:,} faces/s batched, "
        f"{GOAL_PHOTOS_PER_S} photos/s end to end. Reached here: {reached}; "
        f"{fmt_speed(photos)} photos/s end to end (RGB array)."
    )


def inference_table(result: dict[str, Any] | None) -> list[str]:
    """Both inference tables with the machine, the model, the views and how they were timed."""
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    views, size = pick(result, "views"), pick(result, "view_size")
    width, height = PHOTO_SIZE
    gap = pick(result, "onnx_max_gap")
    return [
        "",
        f"### Inference speed: {pick(result, 'network')}, {views} views a face ({size}x{size})",
        "",
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; bf16: {bf16_support()}; torch "
        f"{pick(result, 'torch_threads')} threads, ONNX Runtime {pick(result, 'onnxruntime')} "
        f"(its default threads), OpenCV {pick(result, 'opencv')}; {when}.",
        f"Model timed: {pick(result, 'model')}.",
        "",
        *face_rows(result),
        "",
        f"End to end, `rec.predict` on a {width}x{height} photo with one face (scikit-image's "
        f"astronaut, enlarged and cropped; faces found: {pick(result, 'faces_found')}), "
        f"face detection included, with the default `precision=auto` (here "
        f"{pick(result, 'precision')}); the shares are of the whole call:",
        "",
        *photo_rows(result),
        "",
        goals(result),
        "",
        f"Every faces/s row takes uint8 48x48 crops and returns probabilities averaged over the "
        f"{views} evaluation views (each face is {views} network inputs); the ONNX row includes "
        "the normalization in NumPy, and its largest gap to PyTorch's probabilities was "
        f"{'n/a' if gap is None else f'{gap:.1e}'}. Rows alternate: {pick(result, 'rounds')} "
        f"rounds of {pick(result, 'seconds')} s each after {WARMUP_CALLS} warm-up calls, "
        "the median. "
        f"CPU taken by other processes: {fmt_pct(pick(result, 'others_cpu'))}.",
    ]
