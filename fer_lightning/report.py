"""`python -m fer_lightning.report DIRS... [--out DIR]`: the results section, generated.

Reads every run folder below the given folders (a run folder holds ``final_metrics.json`` and
``.hydra/``) into one pandas table, and writes it as Markdown and CSV with a bar chart of test
accuracy per configuration, an overlay of the runs' validation-accuracy curves, and each run's
loss curves on one page (the seed report's figures 3b-8b).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from fer_lightning.cli import one_line_errors
from fer_lightning.errors import UserError
from fer_lightning.plots.files import save_figure
from fer_lightning.plots.results import accuracy_figure, loss_curves_figure, validation_figure

# The seed report's own test accuracy per experiment (its Table 2). It split all rows at random
# 80/20 and jittered its test images, so its figures are a neighbour, not a target, of ours.
REPORT_ACCURACY = {
    "seed_emo1": 0.596,
    "seed_emo2": 0.581,
    "seed_emo3": 0.51,
    "seed_emo4": 0.53,
    "seed_emo5": 0.62,
}


def hardware(run: Path) -> str | None:
    """Where the run trained, from its run_info.json: the GPU, or the CPU and its core count."""
    infos = sorted(run.glob(".hydra*/run_info.json"))
    if not infos:
        return None
    machine = json.loads(infos[0].read_text()).get("machine", {})
    if machine.get("cuda"):
        return machine["cuda"]
    return f"{machine.get('cpu') or 'CPU'}, {machine.get('cpus')} cores"


def precision(run: Path, metrics: dict[str, object]) -> str | None:
    """The precision the run trained in: final_metrics.json, or its log's "Precision X" line
    (runs finished before final_metrics.json recorded it)."""
    if "precision" in metrics:
        return str(metrics["precision"])
    log = run / "train.log"
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            # The logger was fer_lightning.precision before the package had training/.
            if ".precision][" in line and "Precision " in line:
                return line.split("Precision ", 1)[1].split()[0].rstrip(":")
    return None


def find_runs(paths: Iterable[Path]) -> list[Path]:
    runs: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"{path}: no such folder")
        runs += sorted(p.parent for p in path.rglob("final_metrics.json"))
    if not runs:
        raise UserError(
            "no finished runs (folders with final_metrics.json) under "
            + ", ".join(str(p) for p in paths)
        )
    return runs


def run_config(run: Path) -> DictConfig:
    return OmegaConf.load(run / ".hydra" / "config.yaml")


# Overrides the table shows elsewhere (its own columns) or that only say where files are.
SHOWN_ELSEWHERE = (
    "experiment=",
    "seed=",
    "model=",
    "aug=",
    "optimizer=",
    "scheduler=",
    "trainer.precision=",
    "data=",
    "data.path=",
    "data.ferplus_path=",
    "ckpt_path=",
    "run_name=",
    # Where the run ran and wrote, not what it learned (the hardware column names the device).
    "trainer=",
    "data.on_device=",
    "paths.",
    "logger=",
    "callbacks.progress_bar=",
)


def other_overrides(run: Path) -> str | None:
    """The run's command-line overrides the other columns do not show (an ablation's change,
    e.g. ``~callbacks.ema loss.label_smoothing=0``)."""
    path = run / ".hydra" / "overrides.yaml"
    overrides = OmegaConf.load(path) if path.exists() else []
    rest = [str(o) for o in overrides if not str(o).lstrip("+~").startswith(SHOWN_ELSEWHERE)]
    return " ".join(rest) or None


def labels_of(cfg: DictConfig) -> str:
    """fer2013, or ferplus/<scheme>: which labels the run trained on and was judged against."""
    labels = OmegaConf.select(cfg, "data.labels") or "fer2013"
    if labels == "ferplus":
        return f"ferplus/{OmegaConf.select(cfg, 'data.ferplus_scheme')}"
    return labels


def run_row(run: Path, root: Path | None = None) -> dict[str, object]:
    """One table row: the run's choices from its saved config, its final metrics."""
    metrics = json.loads((run / "final_metrics.json").read_text())
    hydra_cfg = OmegaConf.load(run / ".hydra" / "hydra.yaml").hydra
    choices = hydra_cfg.runtime.choices
    cfg = run_config(run)
    scheduler = choices.get("scheduler")
    if scheduler == "step" and cfg.get("scheduler"):
        scheduler = f"step/{cfg.scheduler.get('step_size')}"
    experiment = choices.get("experiment")
    train_s = metrics.get("train_time_s")
    row: dict[str, object] = {
        "run": str(run.relative_to(root)) if root and run.is_relative_to(root) else run.name,
        "experiment": experiment,
        "labels": labels_of(cfg),
        "seed": cfg.get("seed"),
        "model": choices.get("model"),
        "aug": choices.get("aug"),
        "optimizer": choices.get("optimizer"),
        "lr": OmegaConf.select(cfg, "optimizer.lr"),
        "scheduler": scheduler,
        "overrides": other_overrides(run),
        "precision": precision(run, metrics),
        "epochs": int(metrics.get("epochs", 0)),
        "max_epochs": OmegaConf.select(cfg, "trainer.max_epochs"),
        "params": int(metrics.get("params", 0)),
        "best_val_acc": metrics.get("val/acc_best", metrics.get("val/acc")),
        "test_acc": metrics.get("test/acc"),
        "test_loss": metrics.get("test/loss"),
        "test_macro_precision": metrics.get("test/precision"),
        "test_macro_recall": metrics.get("test/recall"),
        "test_macro_f1": metrics.get("test/f1"),
        "report_acc": REPORT_ACCURACY.get(experiment),
        "train_min": None if train_s is None else train_s / 60,
        "hardware": hardware(run),
    }
    # Per-class recall under the run's own class names (FER2013's seven, FER+'s eight).
    for key, value in metrics.items():
        if key.startswith("test/recall/"):
            row[f"recall_{key.removeprefix('test/recall/')}"] = value
    return row


# The per-epoch series the report draws, by their names in a run's CSV log; older runs logged
# the training loss as train/loss_epoch.
SERIES = {
    "train_loss": ("train/loss", "train/loss_epoch"),
    "val_loss": ("val/loss",),
    "test_loss": ("plot_only/test_loss",),
    "val_acc": ("val/acc",),
}


def metrics_csv(run: Path) -> Path | None:
    """The run's per-step log: csv/metrics.csv in older runs (whose metrics.csv was a per-epoch
    table of another form), else metrics.csv; None if it has neither."""
    return next((p for p in (run / "csv" / "metrics.csv", run / "metrics.csv") if p.exists()), None)


def epoch_curves(run: Path) -> pd.DataFrame | None:
    """Per-epoch series from the run's CSV log, by epoch."""
    path = metrics_csv(run)
    if path is None:
        return None
    log = pd.read_csv(path)
    if "epoch" not in log:
        return None
    columns = {}
    for name, tags in SERIES.items():
        # A run resumed by a newer version logged its epochs under both names: join them.
        found = [log.dropna(subset=[t]).groupby("epoch")[t].last() for t in tags if t in log]
        if found:
            series = found[0]
            for more in found[1:]:
                series = series.combine_first(more)
            columns[name] = series
    return pd.DataFrame(columns) if columns else None


def results_table(runs: Sequence[Path], root: Path | None = None) -> pd.DataFrame:
    return pd.DataFrame([run_row(run, root) for run in runs]).dropna(axis=1, how="all")


def blank_missing(table: pd.DataFrame) -> pd.DataFrame:
    """NaN as None, which tabulate prints as ``missingval`` (a blank, not "nan")."""
    return table.astype(object).where(table.notna(), None)


def run_labels(table: pd.DataFrame) -> list[str]:
    """experiment (or model)/aug/scheduler, plus the label set where runs differ in it, and what
    tells runs of the same one apart: other overrides, seed, precision. Columns no run has a
    value for were dropped from the table."""
    named = table.reindex(columns=["experiment", "model", "aug", "scheduler"])
    labels = [
        f"{r.model if pd.isna(r.experiment) else r.experiment}/{r.aug}/{r.scheduler}"
        for r in named.itertuples()
    ]
    # Accuracy against FER+ labels is another measurement: say so wherever the table mixes them.
    if "labels" in table and table["labels"].nunique() > 1:
        labels = [
            label if value == "fer2013" else f"{label} ({value} labels)"
            for label, value in zip(labels, table["labels"], strict=True)
        ]
    for column, show in (("overrides", str), ("seed", lambda v: f"seed {v}"), ("precision", str)):
        if column not in table:
            continue
        values = table[column].tolist()
        groups: dict[str, set[str]] = {}
        for label, value in zip(labels, values, strict=True):
            groups.setdefault(label, set()).add(str(value))
        labels = [
            f"{label} {show(value)}" if len(groups[label]) > 1 and not pd.isna(value) else label
            for label, value in zip(labels, values, strict=True)
        ]
    return labels


def write_report(table: pd.DataFrame, runs: Sequence[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [
        out / "results.csv",
        out / "results.md",
        out / "test_accuracy.png",
        out / "val_curves.png",
        out / "loss_curves.png",
    ]
    table.to_csv(written[0], index=False)
    shown = table.drop(columns=[c for c in table.columns if c.startswith("recall_")])
    per_class = table[[c for c in table.columns if c.startswith("recall_")]]
    markdown = [
        blank_missing(shown).to_markdown(index=False, floatfmt=".4f", missingval=""),
        "",
        "Test recall per class:",
        "",
        pd.concat([table[["run"]], per_class], axis=1).to_markdown(index=False, floatfmt=".3f"),
    ]
    short = table[table["epochs"] < pd.to_numeric(table["max_epochs"], errors="coerce")]
    if len(short):  # stopped by trainer.max_time or by hand: not the configured recipe's figure
        markdown += ["", "Stopped before their configured end (not a result of the recipe):", ""]
        markdown += [f"- {r.run}: {r.epochs} of {r.max_epochs} epochs" for r in short.itertuples()]
    written[1].write_text("\n".join(markdown) + "\n")

    labels = run_labels(table)
    curves = [epoch_curves(run) for run in runs]
    published = table.reindex(columns=["report_acc"])["report_acc"].tolist()
    figures = {
        written[2]: accuracy_figure(table["test_acc"].tolist(), labels, published),
        written[3]: validation_figure(curves, labels),
        written[4]: loss_curves_figure(curves, labels),
    }
    for path, fig in figures.items():
        save_figure(fig, path, dpi=110)
        plt.close(fig)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lightning.report", description=__doc__)
    parser.add_argument("dirs", nargs="+", type=Path, help="run or sweep folders")
    parser.add_argument("--out", type=Path, help="where to write (default: the first folder)")
    parser.add_argument(
        "--labels",
        choices=["fer2013", "ferplus"],
        help="only the runs trained and judged on this label set (one table per set)",
    )
    args = parser.parse_args(argv)
    with one_line_errors():
        runs = find_runs(args.dirs)
        root = args.dirs[0] if len(args.dirs) == 1 else None
        if args.labels:
            runs = [run for run in runs if labels_of(run_config(run)).startswith(args.labels)]
            if not runs:
                raise UserError(f"no finished runs with data.labels={args.labels} in those folders")
        table = results_table(runs, root)
        written = write_report(table, runs, args.out or args.dirs[0])
    print(
        table.drop(columns=[c for c in table.columns if c.startswith("recall_")]).to_string(
            index=False
        )
    )
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
