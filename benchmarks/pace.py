"""Does a network learn at a normal pace? Validation accuracy of runs side by side.

    python benchmarks/pace.py outputs/train/runs/<the run checked> outputs/train/runs/<EmoCNN's>
    python benchmarks/pace.py --by faces <the run checked> <EmoCNN's>  # at equal faces seen
    python benchmarks/pace.py --window 200 <the run checked> <EmoCNN's>  # mean of each 200 steps

For every validation of the first run, the accuracy the others had reached by the same optimizer
step (their last validation at or before it) and the faces each had seen; with ``--by faces``,
by the same number of faces seen. A strong network that trails EmoCNN is learning too slowly:
look for the cause (learning rate, warm-up, normalization) before spending GPU hours on it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def validations(run: Path) -> pd.Series:
    """val/acc by optimizer step, from the run's metrics.csv (csv/metrics.csv in older runs)."""
    from fer_lightning.runs.results import metrics_csv

    path = metrics_csv(run)
    if path is None:
        raise SystemExit(f"{run}: no metrics.csv (a run folder of fer_lightning, please)")
    log = pd.read_csv(path)
    if "val/acc" not in log:
        raise SystemExit(f"{path}: no val/acc column (did the run validate?)")
    values = log.dropna(subset=["val/acc"]).groupby("step")["val/acc"].last()
    values.index = values.index.astype(int)
    return values


def batch_size(run: Path) -> int:
    from omegaconf import OmegaConf

    return int(OmegaConf.load(run / ".hydra" / "config.yaml").data.batch_size)


def pace_table(runs: list[Path], by: str = "step") -> pd.DataFrame:
    """At each validation of the first run, every run's last validation at or before that point.

    ``by="step"`` lines the runs up at equal optimizer steps (and says the faces each had seen);
    ``by="faces"`` at equal faces seen, steps x batch size (and says each run's step there): the
    fair reading when batch sizes differ, as EmoCNN's 1024 against a recipe's 128 do, since a
    larger batch reaches more per step and less per face.
    """
    if by not in ("step", "faces"):
        raise SystemExit(f"--by {by!r}: use step or faces")
    series = [validations(run) for run in runs]
    sizes = [batch_size(run) for run in runs]
    per_unit = sizes if by == "faces" else [1] * len(runs)  # axis units in one of a run's steps
    axis = series[0].index * per_unit[0]
    table = pd.DataFrame({"step" if by == "step" else "faces seen": axis})
    for run, values, size, unit in zip(runs, series, sizes, per_unit, strict=True):
        values = pd.Series(values.to_numpy(), index=values.index * unit)
        reached = values.reindex(values.index.union(axis)).ffill().reindex(axis)
        table[f"{run.name} val/acc"] = reached.to_numpy()
        if by == "step":
            table[f"{run.name} faces seen"] = axis * size
        else:
            table[f"{run.name} step"] = axis // size
    return table


def window_table(runs: list[Path], width: int, by: str = "step") -> pd.DataFrame:
    """Each run's mean validation accuracy within consecutive windows of ``width`` steps (or
    faces seen), up to the first run's last validation.

    Single validations at batch 128 swing by 3-5 points from one to the next; a window's mean
    tells a slower learner from a noisy one.
    """
    if width <= 0:
        raise SystemExit(f"--window {width}: give a positive number of steps (or faces)")
    series = [validations(run) for run in runs]
    units = [batch_size(run) if by == "faces" else 1 for run in runs]
    end = int(series[0].index.max()) * units[0]
    starts = list(range(0, end, width))
    axis = "step" if by == "step" else "faces"
    ends = [min(lo + width, end) for lo in starts]
    table = pd.DataFrame({f"{axis} from": [lo + 1 for lo in starts], f"{axis} to": ends})
    for run, values, unit in zip(runs, series, units, strict=True):
        position = values.index.to_numpy() * unit
        means = []
        for lo, hi in zip(starts, ends, strict=True):
            inside = (position > lo) & (position <= hi)
            means.append(values.to_numpy()[inside].mean() if inside.any() else float("nan"))
        table[f"{run.name} mean val/acc"] = means
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders; the first is checked")
    parser.add_argument(
        "--by", default="step", choices=("step", "faces"), help="equal steps or equal faces seen"
    )
    parser.add_argument(
        "--window", type=int, metavar="W", help="the mean of each W steps (or faces) instead"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    if args.window is None:
        table = pace_table(args.runs, by=args.by)
    else:
        table = window_table(args.runs, args.window, by=args.by)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=1))
    else:
        # One format per column: the frame's values reach tabulate as floats.
        formats = [".4f" if "val/acc" in name else ".0f" for name in table.columns]
        print(table.to_markdown(index=False, floatfmt=formats))


if __name__ == "__main__":
    main()
