"""Does a network learn at a normal pace? Validation accuracy of runs side by side, by step.

    python benchmarks/pace.py outputs/train/runs/<the run checked> outputs/train/runs/<EmoCNN's>

For every validation of the first run, the accuracy the others had reached by the same optimizer
step (their last validation at or before it) and the faces each had seen. A strong network that
trails EmoCNN at equal steps is learning too slowly: look for the cause (learning rate, warm-up,
normalization) before spending GPU hours on it.
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


def pace_table(runs: list[Path]) -> pd.DataFrame:
    series = [validations(run) for run in runs]
    steps = series[0].index
    table = pd.DataFrame({"step": steps})
    for run, values in zip(runs, series, strict=True):
        reached = values.reindex(values.index.union(steps)).ffill().reindex(steps)
        table[f"{run.name} val/acc"] = reached.to_numpy()
        table[f"{run.name} faces seen"] = steps * batch_size(run)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders; the first is checked")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    table = pace_table(args.runs)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=1))
    else:
        # One format per column: the frame's values reach tabulate as floats.
        formats = [".4f" if name.endswith("val/acc") else ".0f" for name in table.columns]
        print(table.to_markdown(index=False, floatfmt=formats))


if __name__ == "__main__":
    main()
