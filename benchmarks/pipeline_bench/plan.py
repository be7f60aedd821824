"""How much each measurement runs, and the networks of the precision rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BATCH = 1024


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


# The networks of the fp32/bf16 rows: (batch, aug group, input channels) as their runs train them.
PRECISION_NETS = {
    "emo1": (BATCH, "colorjitter", 3),
    "emo5": (BATCH, "colorjitter", 3),
    "compact_vgg": (128, "fer_cpu", 1),
}
