"""``trainer.precision=auto``: bf16 autocast where the hardware runs bf16 natively, else fp32.

On a CPU, bf16 pays only with native instructions (AVX512-BF16 or AMX), where a training step
runs markedly faster under bf16 autocast than in fp32 at no cost in accuracy (docs/speed.md);
without them oneDNN emulates bf16 and gains nothing. The instruction sets are read from
/proc/cpuinfo, because torch's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported``) also
says yes for plain AVX-512, where bf16 is emulated.
"""

from __future__ import annotations

import logging

import torch

from fer_lightning.runs.machine import cpu_name, native_bf16_cpu

log = logging.getLogger(__name__)


def resolve_precision(precision: str | int | None, accelerator: str | None) -> str | int | None:
    """``auto`` -> ``bf16-mixed`` or ``32-true`` for the device the trainer will use; the choice
    is logged with its reason. Any other value passes through (``32-true`` forces fp32)."""
    if precision != "auto":
        return precision
    on_gpu = accelerator in ("gpu", "cuda") or (
        accelerator in (None, "auto") and torch.cuda.is_available()
    )
    if on_gpu:
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        chosen = "bf16-mixed" if native else "32-true"
        log.info("Precision %s (GPU %s bf16)", chosen, "runs" if native else "lacks native")
        return chosen
    flag = native_bf16_cpu()
    if flag:
        log.info("Precision bf16-mixed: %s has native bf16 (%s)", cpu_name(), flag)
        return "bf16-mixed"
    log.info(
        "Precision 32-true: %s has no native bf16 (AVX512-BF16 or AMX); bf16 would be emulated",
        cpu_name(),
    )
    return "32-true"
