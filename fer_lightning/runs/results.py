"""A finished run folder as one row of a results table: its choices, metrics, hardware, curves.

A run folder holds ``final_metrics.json``, ``.hydra/`` (config, overrides, run_info.json) and
its CSV log. The results report (``python -m fer_lightning.report``), the docs figures and the
benchmarks read runs through these functions, so each rule (where the CSV log is, which
overrides a table shows) is written once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from fer_lightning.errors import DataError, UserError
from fer_lightning.runs.run_files import (
    number,
    read_config,
    read_errors,
    read_json,
    read_yaml,
    select,
)

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
    machine = read_json(infos[0]).get("machine") or {}
    if not isinstance(machine, dict):
        raise DataError(f"{infos[0]}: its machine is {machine!r}, not an object")
    if machine.get("cuda"):
        return machine["cuda"]
    # /proc/cpuinfo's trademark signs ("Intel(R) Xeon(R) Processor") only widen the column.
    cpu = re.sub(r"\((R|TM)\)", "", machine.get("cpu") or "CPU", flags=re.IGNORECASE)
    return f"{cpu}, {machine.get('cpus')} cores"


def precision(run: Path, metrics: dict[str, object]) -> str | None:
    """The precision the run trained in: final_metrics.json, or its log's "Precision X" line
    (runs finished before final_metrics.json recorded it)."""
    if "precision" in metrics:
        return str(metrics["precision"])
    log = run / "train.log"
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
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
    return read_config(run / ".hydra" / "config.yaml")


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
    overrides = read_yaml(path) if path.exists() else []
    rest = [str(o) for o in overrides if not str(o).lstrip("+~").startswith(SHOWN_ELSEWHERE)]
    return " ".join(rest) or None


def labels_of(cfg: DictConfig) -> str:
    """fer2013, or ferplus/<scheme>: which labels the run trained on and was judged against."""
    labels = OmegaConf.select(cfg, "data.labels") or "fer2013"
    if labels == "ferplus":
        return f"ferplus/{OmegaConf.select(cfg, 'data.ferplus_scheme')}"
    return labels


# The numbers of final_metrics.json a row shows, besides the test metrics (test/...).
NUMBERS = {"epochs", "params", "train_time_s", "val/acc", "val/acc_best"}


def run_row(run: Path, root: Path | None = None) -> dict[str, object]:
    """One table row: the run's choices from its saved config, its final metrics. A file that
    does not read, or a number that is not one, is a DataError naming the file."""
    path = run / "final_metrics.json"
    metrics = read_json(path)
    for key, value in metrics.items():
        if key.startswith("test/") or key in NUMBERS:
            number(value, key, path)
    hydra_file = run / ".hydra" / "hydra.yaml"
    choices = select(read_config(hydra_file), "hydra.runtime.choices", hydra_file)
    if not isinstance(choices, DictConfig):
        raise DataError(f"{hydra_file}: has no hydra.runtime.choices (the run's config groups)")
    config = run / ".hydra" / "config.yaml"
    cfg = run_config(run)
    with read_errors(config):
        labels = labels_of(cfg)
    scheduler = choices.get("scheduler")
    if scheduler == "step" and select(cfg, "scheduler", config):
        scheduler = f"step/{select(cfg, 'scheduler.step_size', config)}"
    experiment = choices.get("experiment")
    train_s = metrics.get("train_time_s")
    row: dict[str, object] = {
        # A run folder given alone is its own root: name it, not ".".
        "run": str(run.relative_to(root))
        if root and root != run and run.is_relative_to(root)
        else run.name,
        "experiment": experiment,
        "labels": labels,
        "seed": number(select(cfg, "seed", config), "seed", config),
        "model": choices.get("model"),
        "aug": choices.get("aug"),
        "optimizer": choices.get("optimizer"),
        "lr": number(select(cfg, "optimizer.lr", config), "optimizer.lr", config),
        "scheduler": scheduler,
        "overrides": other_overrides(run),
        "precision": precision(run, metrics),
        "epochs": int(metrics.get("epochs", 0)),
        "max_epochs": number(
            select(cfg, "trainer.max_epochs", config), "trainer.max_epochs", config
        ),
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
    """Per-epoch series from the run's CSV log, by epoch (a DataError if the log does not read)."""
    path = metrics_csv(run)
    if path is None:
        return None
    with read_errors(path):
        log = pd.read_csv(path)
    if "epoch" not in log:
        return None
    for column in ("epoch", *(t for tags in SERIES.values() for t in tags)):
        if column in log and not pd.api.types.is_numeric_dtype(log[column]):
            raise DataError(f"{path}: its {column} column holds text where numbers belong")
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


def rows_table(rows: Iterable[dict[str, object]]) -> pd.DataFrame:
    """Rows as a table, without the columns no row has a value in."""
    return pd.DataFrame(list(rows)).dropna(axis=1, how="all")


def results_table(runs: Sequence[Path], root: Path | None = None) -> pd.DataFrame:
    return rows_table(run_row(run, root) for run in runs)
