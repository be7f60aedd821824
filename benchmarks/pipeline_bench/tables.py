"""The Markdown the benchmark prints and writes to results.md."""

from __future__ import annotations

from typing import Any

from pipeline_bench.plan import BATCH, PRECISION_NETS, Plan


def cpu_model() -> str:
    from fer_lightning.runs.machine import cpu_name

    return cpu_name()


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
    from pipeline_bench.inference_table import inference_table  # it builds on this module

    precision = precision_table(workers.get("precision"), plan)
    compiled = compile_table(workers.get("compile"))
    inference = inference_table(workers.get("inference"))
    return "\n".join([*header, "", *rows, *notes, *precision, *compiled, *inference]) + "\n"


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
