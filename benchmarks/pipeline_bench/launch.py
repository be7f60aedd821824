"""Each worker in its own process, so its allocator setting is fixed before torch loads."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline_bench.clock import START, CpuWatch, busy, say, wait_quiet
from pipeline_bench.plan import REPO

BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "bench.py"


JSON_TAG = "BENCH_JSON "


WORKER_TIMEOUT_S = 1200


WORKER_THP = {
    "report": "0",
    "ours": "1",
    "lightning": "1",
    "precision": "1",
    "compile": "1",
    "inference": "1",
}


def run_worker(name: str, args: argparse.Namespace, extra: list[str]) -> dict[str, Any] | None:
    """Start ``--worker name`` with its THP setting fixed before torch loads; its JSON or None."""
    env = dict(os.environ, THP_MEM_ALLOC_ENABLE=WORKER_THP[name], FER_BENCH_T0=str(START))
    command = [sys.executable, str(BENCH_SCRIPT), "--worker", name, *extra]
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
