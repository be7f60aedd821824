"""The seed report's pipeline against fer_lightning's, measured side by side in one run.

    python benchmarks/bench.py [--csv PATH] [--quick] [--wait-quiet S] [--only PART]

Why a script and not a claim: every speed-up the project states (CSV parse, parse-once cache,
batched input pipeline on the device, channels-last, transparent huge pages) is measured here
against a faithful reimplementation of the report's code, on the same machine, data and run, so
the ratios cannot drift from numbers taken on different days or machines.

The report's way is written out in ``pipeline_bench/report_way.py`` from its description (it
is not imported from anywhere): pandas per-row ``split`` into float32, a list of PIL images,
torchvision's per-image ColorJitter/ToTensor/Normalize in a ``DataLoader`` (batch 1024, no
workers), and the network in the default (contiguous) memory format. For its network the
project's EmoCNN/Emo5CNN stand in: same layers and parameter counts; the report's ``x.view``
flatten would fail on channels-last, so its side stays contiguous.

Training throughput runs in one subprocess per side (``--worker report|ours|lightning``), because
``THP_MEM_ALLOC_ENABLE`` must be set (ours) or off (the report's) before torch is imported. Each
worker prints one ``BENCH_JSON {...}`` line on stdout; progress goes to stderr. Both sides use a
plain loop (forward, CrossEntropyLoss, backward, Adam step) in float32, so the comparison isolates
the data pipeline, the memory format and the allocator; one more worker trains ours through a
real ``lightning.Trainer`` to show what Lightning itself costs. The last worker times inference:
the shipped model's faces/s in PyTorch and ONNX Runtime and ``EmotionRecognizer.predict``'s
photos/s (``pipeline_bench/inference.py``). The table goes to stdout and to
``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

from pipeline_bench.clock import START, environment, say, wait_quiet
from pipeline_bench.data import choose_data, measure_loads
from pipeline_bench.inference_table import inference_table
from pipeline_bench.launch import JSON_TAG, measure
from pipeline_bench.plan import make_plan
from pipeline_bench.tables import build_report, compile_table, cpu_model, precision_table
from pipeline_bench.workers import WORKERS

RESULTS = Path(__file__).resolve().parent / "results.md"


def main(args: argparse.Namespace) -> None:
    plan = make_plan(args.quick)
    if args.only == "inference":  # reads no CSV: the model and a photo are all it needs
        wait_quiet(args.wait_quiet)
        print("\n".join(inference_table(measure("inference", args, []))))
        return
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
        choices=["precision", "compile", "inference"],
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
