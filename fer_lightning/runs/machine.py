"""The machine a run trains on: the CPU's name and whether it runs bf16 natively.

Read from /proc/cpuinfo, because torch's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported``)
also says yes for plain AVX-512, where bf16 is emulated. Recorded in every run's run_info.json
and used to choose the precision.
"""

from __future__ import annotations

import platform
from pathlib import Path

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo does not exist: macOS, Windows)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def native_bf16_cpu(flags: set[str] | None = None) -> str | None:
    """The flag that proves native bf16 on this CPU (``amx_bf16``, ``avx512_bf16``), or None."""
    flags = cpu_flags() if flags is None else flags
    return next((f for f in reversed(NATIVE_BF16_FLAGS) if f in flags), None)


def cpu_name() -> str:
    """The CPU's model name, for logs and benchmark headers."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
