"""The shipped models as one Markdown table, from their cards (the README's model table)."""

from __future__ import annotations

from fer_lightning.zoo import registry


def hardware(machine: dict | None) -> str:
    if not machine:
        return ""
    cpu = (
        str(machine.get("cuda") or machine.get("cpu") or "").replace("(R)", "").replace("(TM)", "")
    )
    cores = f", {machine['cpus']} cores" if machine.get("cpus") and not machine.get("cuda") else ""
    return f"{cpu.strip()}{cores}"


def zoo_table() -> str:
    """One row per shipped model present: classes, test figures, size, how it was trained."""
    lines = [
        "| `pretrained=` | classes | test accuracy | macro F1 | params | weights | trained |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    # Looked up on the module each call, so the list seen is the registry's current one.
    for name in registry.SHIPPED:
        if not (registry.models_dir() / f"{name}.json").is_file():
            continue
        c = registry.card(name)
        results, training = c["results"], c.get("training") or {}
        minutes = (training.get("train_time_s") or 0) / 60
        lines.append(
            f"| `{name}` | {len(c['classes'])} | {100 * results['accuracy']:.2f}% "
            f"({results['split']}) | {100 * (results.get('macro_f1') or 0):.2f}% "
            f"| {c['params']:,} | {c['weights']['dtype']} | {minutes:.0f} min, "
            f"{hardware(training.get('machine'))} |"
        )
    return "\n".join(lines) + "\n"
