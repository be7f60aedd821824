"""A finished run folder as one row of a results table: its choices, metrics, hardware, curves.

A run folder holds ``final_metrics.json``, ``.hydra/`` (config, overrides, run_info.json) and
its CSV log. The results report (``python -m fer_lightning.report``), the docs figures and the
benchmarks read runs through these functions, so each rule (where the CSV log is, which
overrides a table shows) is written once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from fer_lightning.errors import UserError

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
        # A run folder given alone is its own root: name it, not ".".
        "run": str(run.relative_to(root))
        if root and root != run and run.is_relative_to(root)
        else run.name,
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
