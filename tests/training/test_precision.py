"""trainer.precision=auto: bf16 autocast only where the CPU runs bf16 natively."""

from __future__ import annotations

import logging

import pytest

from fer_lightning.runs.machine import cpu_flags, native_bf16_cpu
from fer_lightning.training import precision
from fer_lightning.training.precision import resolve_precision

CPUINFO = """processor\t: 0
vendor_id\t: {vendor}
model name\t: {name}
flags\t\t: fpu sse sse2 avx avx2 {extra}

processor\t: 1
"""


@pytest.mark.parametrize(
    ("extra", "native"),
    [
        ("avx512f avx512bw", None),  # AVX-512 alone: bf16 is emulated
        ("avx512f avx512_bf16", "avx512_bf16"),  # e.g. AMD EPYC (Zen 4)
        ("avx512_bf16 amx_bf16 amx_tile", "amx_bf16"),  # Intel Xeon with AMX
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, extra, native):
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO.format(vendor="X", name="Some CPU", extra=extra))
    flags = cpu_flags(info)
    assert {"avx2", *extra.split()} <= flags
    assert native_bf16_cpu(flags) == native


def test_missing_cpuinfo_means_no_flags(tmp_path):
    assert cpu_flags(tmp_path / "absent") == set()


@pytest.mark.parametrize("flag", ["avx512_bf16", None])
def test_auto_on_the_cpu_follows_native_support(monkeypatch, caplog, flag):
    monkeypatch.setattr(precision, "native_bf16_cpu", lambda: flag)
    with caplog.at_level(logging.INFO, logger="fer_lightning.training.precision"):
        chosen = resolve_precision("auto", "cpu")
    assert chosen == ("bf16-mixed" if flag else "32-true")
    assert f"Precision {chosen}" in caplog.text  # the log says which, and why


def test_auto_matches_this_machine_and_explicit_values_pass_through():
    expected = "bf16-mixed" if native_bf16_cpu() else "32-true"
    assert resolve_precision("auto", "cpu") == expected
    for value in ("32-true", "bf16-mixed", "16-mixed", 32, None):
        assert resolve_precision(value, "cpu") == value


@pytest.mark.e2e
def test_auto_is_the_default_since_bf16_was_shown_to_cost_no_accuracy(train_cfg):
    """seed_emo1 on PublicTest: bf16 58.37%, fp32 58.18% (README, "bf16 on the CPU")."""
    for trainer in ("default", "cpu"):
        assert train_cfg([f"trainer={trainer}"]).trainer.precision == "auto"
    assert train_cfg(["trainer.precision=32-true"]).trainer.precision == "32-true"
    assert train_cfg(["trainer=gpu"]).trainer.precision == "bf16-mixed"
    assert train_cfg(["experiment=fer_cpu"]).trainer.precision == "auto"
