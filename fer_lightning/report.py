"""`python -m fer_lightning.report DIRS... [--out DIR] [--into FILE#NAME] [--ledger CSV]`: results.

Reads every run folder below the given folders (a run folder holds ``final_metrics.json`` and
``.hydra/``) into one pandas table, and writes it as Markdown and CSV with a bar chart of test
accuracy per configuration, an overlay of the runs' validation-accuracy curves, and each run's
loss curves on one page (the seed report's figures 3b-8b). ``--into README.md#results`` also
puts the Markdown tables into that document, between its lines ``<!-- begin report results -->``
and ``<!-- end report results -->``, so a README's figures are regenerated, never pasted.
``--ledger docs/results/NAME.csv`` keeps the rows of runs whose folders are not here (trained on
another machine, or deleted) from that committed CSV, and writes it back with the runs read now.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from fer_lightning.atomic import replaced_atomically
from fer_lightning.cli import one_line_errors
from fer_lightning.errors import UserError
from fer_lightning.plots.files import save_figure
from fer_lightning.plots.results import accuracy_figure, loss_curves_figure, validation_figure
from fer_lightning.runs.ledger import merge_into_ledger, read_ledger, write_ledger
from fer_lightning.runs.results import epoch_curves, find_runs, labels_of, results_table, run_config


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


def markdown_tables(table: pd.DataFrame) -> list[str]:
    """The results table, then the per-class recall table."""
    recall = [c for c in table.columns if c.startswith("recall_")]
    return [
        blank_missing(table.drop(columns=recall)).to_markdown(
            index=False, floatfmt=".4f", missingval=""
        ),
        "",
        "Test recall per class:",
        "",
        table[["run", *recall]].to_markdown(index=False, floatfmt=".3f"),
    ]


def write_report(
    table: pd.DataFrame, curves: Sequence[pd.DataFrame | None], out: Path
) -> list[Path]:
    """Markdown, CSV and charts of ``table``; ``curves`` are its rows' epoch logs (None where a
    run's folder is not here)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [
        out / "results.csv",
        out / "results.md",
        out / "test_accuracy.png",
        out / "val_curves.png",
        out / "loss_curves.png",
    ]
    table.to_csv(written[0], index=False)
    # A run cut short (trainer.max_time, or stopped for good) is not its recipe's figure: it gets
    # its own table, so the results table holds only runs trained to their configured end.
    short = table["epochs"] < pd.to_numeric(table["max_epochs"], errors="coerce")
    markdown = markdown_tables(table[~short]) if (~short).any() else ["No run reached its end."]
    if short.any():
        markdown += ["", "Stopped before their configured end (not a result of the recipe):", ""]
        markdown += markdown_tables(table[short])[:1]
    written[1].write_text("\n".join(markdown) + "\n")

    labels = run_labels(table)
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


def fill_block(target: str, text: str) -> Path:
    """Put ``text`` between the marker lines of block NAME in FILE (``target`` is FILE#NAME)."""
    file, _, name = target.partition("#")
    shown = name or "results"
    begin, end = f"<!-- begin report {shown} -->", f"<!-- end report {shown} -->"
    markers = f"the lines '{begin}' and '{end}' around the place for the tables"
    if not name or not file:
        raise UserError(f"--into {target}: give FILE#NAME, e.g. README.md#results, with {markers}")
    path = Path(file)
    if not path.is_file():
        raise UserError(f"--into {target}: {path} is not a file")
    lines = path.read_text().splitlines(keepends=True)
    stripped = [line.strip() for line in lines]
    if stripped.count(begin) != 1 or stripped.count(end) != 1:
        raise UserError(f"--into {target}: {path} needs {markers}, once each")
    first, last = stripped.index(begin), stripped.index(end)
    if last < first:
        raise UserError(f"--into {target}: in {path} '{end}' comes before '{begin}'")
    body = "\n" + text.strip("\n") + "\n\n"
    new = "".join(lines[: first + 1]) + body + "".join(lines[last:])
    with replaced_atomically(path) as f:
        f.write(new)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lightning.report", description=__doc__)
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="run or sweep folders (none: redraw --ledger's rows)"
    )
    parser.add_argument("--out", type=Path, help="where to write (default: the first folder)")
    parser.add_argument(
        "--labels",
        choices=["fer2013", "ferplus"],
        help="only the runs trained and judged on this label set (one table per set)",
    )
    parser.add_argument(
        "--into",
        metavar="FILE#NAME",
        help="also put the tables into FILE between <!-- begin report NAME --> and "
        "<!-- end report NAME -->",
    )
    parser.add_argument(
        "--ledger",
        type=Path,
        metavar="CSV",
        help="the committed record of the tables' runs: rows of runs not in DIRS are kept from "
        "it, the runs read now replace or join theirs, and it is written back",
    )
    args = parser.parse_args(argv)
    if not args.dirs and not (args.ledger and args.out):
        parser.error("give run folders, or --ledger CSV --out DIR to redraw the ledger's tables")
    with one_line_errors():
        table, curves = pd.DataFrame({"run": []}), {}
        if args.dirs:
            runs = find_runs(args.dirs)
            root = args.dirs[0] if len(args.dirs) == 1 else None
            if args.labels:
                runs = [run for run in runs if labels_of(run_config(run)).startswith(args.labels)]
                if not runs:
                    raise UserError(f"no finished runs with data.labels={args.labels} there")
            table = results_table(runs, root)
            curves = dict(zip(table["run"], map(epoch_curves, runs), strict=True))
        if args.ledger:
            table = merge_into_ledger(table, read_ledger(args.ledger))
            if table.empty:
                raise UserError(f"--ledger {args.ledger}: no such file, and no runs to start it")
        rows_curves = [curves.get(name) for name in table["run"]]
        written = write_report(table, rows_curves, args.out or args.dirs[0])
        if args.ledger:
            written.append(write_ledger(table, args.ledger))
        if args.into:
            written.append(fill_block(args.into, written[1].read_text()))
    print(
        table.drop(columns=[c for c in table.columns if c.startswith("recall_")]).to_string(
            index=False
        )
    )
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
