"""`python -m fer_lightning.report DIRS... [--out DIR] [--into FILE#NAME] [--ledger CSV]`: results.

Reads every run folder below the given folders (a run folder holds ``final_metrics.json`` and
``.hydra/``) into one pandas table, and writes it as Markdown and CSV with a bar chart of test
accuracy per configuration, an overlay of the runs' validation-accuracy curves, and each run's
loss curves on one page (the seed report's figures 3b-8b). ``--into README.md#results`` also
puts the Markdown tables into that document, between its lines ``<!-- begin report results -->``
and ``<!-- end report results -->``, so a README's figures are regenerated, never pasted.
``--ledger docs/results/NAME.csv`` keeps the rows of runs whose folders are not here (trained on
another machine, or deleted) from that committed CSV, and writes it back with the runs read now.
A run folder whose files do not read is left out with a warning, as an unfinished one is.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from fer_lightning.atomic import check_replaceable
from fer_lightning.cli import one_line_errors
from fer_lightning.errors import DataError, UserError
from fer_lightning.file_locks import held_exclusively
from fer_lightning.plots.files import save_figure
from fer_lightning.plots.results import accuracy_figure, loss_curves_figure, validation_figure
from fer_lightning.runs.document_block import Block, read_block, through_links
from fer_lightning.runs.ledger import merge_into_ledger, read_ledger, write_ledger
from fer_lightning.runs.results import epoch_curves, find_runs, rows_table, run_row
from fer_lightning.runs.run_files import one_line
from fer_lightning.zoo.table import zoo_table

OUTPUTS = ("results.csv", "results.md", "test_accuracy.png", "val_curves.png", "loss_curves.png")


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


def markdown_cell(text: str) -> str:
    """Text as one Markdown table cell shows it: one line (line breaks as spaces), pipes and
    backslashes escaped, HTML as text. Ledgers and run folders are files anyone may edit, and
    their cells go into a README between marker lines that no cell may pass for."""
    shown = html.escape(" ".join(text.split()), quote=False)
    return shown.replace("\\", "\\\\").replace("|", "\\|")


def _markdown_value(value: object) -> object:
    return markdown_cell(value) if isinstance(value, str) else value


def markdown_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text cell and column name as a Markdown cell shows it."""
    shown = table.rename(columns=lambda name: markdown_cell(str(name)))
    for column in shown.columns:
        if not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(_markdown_value)
    return shown


def markdown_tables(table: pd.DataFrame) -> list[str]:
    """The results table, then the per-class recall table."""
    recall = [c for c in table.columns if c.startswith("recall_")]
    return [
        blank_missing(markdown_safe(table.drop(columns=recall))).to_markdown(
            index=False, floatfmt=".4f", missingval=""
        ),
        "",
        "Test recall per class:",
        "",
        markdown_safe(table[["run", *recall]]).to_markdown(index=False, floatfmt=".3f"),
    ]


def write_report(
    table: pd.DataFrame, curves: Sequence[pd.DataFrame | None], out: Path
) -> list[Path]:
    """Markdown, CSV and charts of ``table``; ``curves`` are its rows' epoch logs (None where a
    run's folder is not here)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / name for name in OUTPUTS]
    table.to_csv(written[0], index=False, encoding="utf-8")
    # A run cut short (trainer.max_time, or stopped for good) is not its recipe's figure: it gets
    # its own table, so the results table holds only runs trained to their configured end.
    # Runs without test metrics or an epoch limit (test=false, max_steps) leave those out.
    limits = table.reindex(columns=["epochs", "max_epochs", "test_acc"])
    limits = limits.apply(pd.to_numeric, errors="coerce").astype(float)  # blanks: NaN, not NA
    short = limits["epochs"] < limits["max_epochs"]
    markdown = markdown_tables(table[~short]) if (~short).any() else ["No run reached its end."]
    if short.any():
        markdown += ["", "Stopped before their configured end (not a result of the recipe):", ""]
        markdown += markdown_tables(table[short])[:1]
    written[1].write_text("\n".join(markdown) + "\n", encoding="utf-8")

    labels = run_labels(table)
    published = table.reindex(columns=["report_acc"])["report_acc"].tolist()
    figures = {
        written[2]: accuracy_figure(limits["test_acc"].tolist(), labels, published),
        written[3]: validation_figure(curves, labels),
        written[4]: loss_curves_figure(curves, labels),
    }
    for path, fig in figures.items():
        save_figure(fig, path, dpi=110)
        plt.close(fig)
    return written


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def check_writable(paths: Sequence[Path], option: str, value: Path) -> None:
    """Each of ``paths`` can be written, or one line naming ``option`` and the fix."""
    for path in paths:
        try:
            check_replaceable(path)
        except UserError as error:
            raise UserError(f"{option} {value}: {error}, or give another {option}") from error


def read_runs(
    dirs: Sequence[Path], labels: str | None
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame | None]]:
    """The table of the runs below ``dirs``, and their curves by run name.

    A run whose files do not read is left out with a warning, as a run without
    final_metrics.json (unfinished) is: training writes that file last, so a run killed then
    leaves it cut short. Its training log only draws curves: one that does not read costs those.
    """
    root = dirs[0] if len(dirs) == 1 else None
    rows, unreadable = {}, []
    for run in find_runs(dirs):
        try:
            rows[run] = run_row(run, root)
        except DataError as error:
            unreadable.append(f"{run}: {error}")
    if not rows:
        more = f" (and {len(unreadable) - 1} more runs that do not read)" if unreadable[1:] else ""
        raise UserError(f"{unreadable[0]}{more}; rerun it, or give the folders of finished runs")
    for problem in unreadable:
        warn(f"skipped {problem}; rerun it, or move its folder out of the way")
    if labels:
        rows = {run: row for run, row in rows.items() if str(row["labels"]).startswith(labels)}
        if not rows:
            raise UserError(f"no finished runs with data.labels={labels} there")
    curves = {}
    for run, row in rows.items():
        try:
            curves[str(row["run"])] = epoch_curves(run)
        except DataError as error:
            warn(f"{error}; {row['run']} is drawn without its curves")
            curves[str(row["run"])] = None
    return rows_table(rows.values()), curves


def write_all(
    table: pd.DataFrame,
    curves: dict[str, pd.DataFrame | None],
    out: Path,
    ledger: Path | None,
    block: Block | None,
) -> list[Path]:
    """The report's files, then the ledger, then the document's block."""
    try:
        written = write_report(table, [curves.get(name) for name in table["run"]], out)
        if ledger:
            written.append(write_ledger(table, ledger))
        if block:
            written.append(block.fill(written[1].read_text(encoding="utf-8")))
    except OSError as error:
        where = error.filename or out
        raise UserError(
            f"{where}: cannot be written ({one_line(error)}); fix that and run the report again"
        ) from error
    return written


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
        "<!-- end report NAME --> (through a link, to the file it names)",
    )
    parser.add_argument(
        "--ledger",
        type=Path,
        metavar="CSV",
        help="the committed record of the tables' runs: rows of runs not in DIRS are kept from "
        "it, the runs read now replace or join theirs, and it is written back (one report at "
        "a time: another waits)",
    )
    parser.add_argument(
        "--zoo", action="store_true", help="the shipped models' table (from their cards) --into"
    )
    args = parser.parse_args(argv)
    if args.zoo:
        with one_line_errors():
            if not args.into:
                raise UserError("--zoo writes the shipped models' table --into FILE#NAME")
            block = read_block(args.into)
            with held_exclusively([block.path], waiting=lambda p: warn(f"waiting for {p}")):
                print(f"wrote {read_block(args.into).fill(zoo_table())}")
        return
    if not args.dirs and not (args.ledger and args.out):
        parser.error("give run folders, or --ledger CSV --out DIR to redraw the ledger's tables")
    with one_line_errors():
        # Every target is checked before anything is written: a refusal changes nothing.
        out = args.out or args.dirs[0]
        check_writable([out / name for name in OUTPUTS], "--out", out)
        ledger = args.ledger and through_links(args.ledger, "--ledger")
        if ledger:
            if not args.dirs and not ledger.exists():
                raise UserError(f"--ledger {args.ledger}: no such file, and no runs to start it")
            read_ledger(ledger)
            check_writable([ledger], "--ledger", args.ledger)
        block = read_block(args.into) if args.into else None
        table, curves = pd.DataFrame({"run": []}), {}
        if args.dirs:
            table, curves = read_runs(args.dirs, args.labels)
        if ledger:
            ledger.parent.mkdir(parents=True, exist_ok=True)  # where its lock goes
        # The ledger and the document are read again under their locks, then written: another
        # report may have changed them since (its runs, another block of the same README).
        shared = [path for path in (ledger, block and block.path) if path]
        with held_exclusively(shared, waiting=lambda p: warn(f"waiting for another report: {p}")):
            if ledger:
                table = merge_into_ledger(table, read_ledger(ledger))
                if table.empty:
                    raise UserError(f"--ledger {args.ledger}: no rows, and no runs to add to it")
            block = read_block(args.into) if args.into else None
            written = write_all(table, curves, out, ledger, block)
    # Characters the terminal's encoding lacks (a cell in an ASCII locale) are shown escaped.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    print(
        table.drop(columns=[c for c in table.columns if c.startswith("recall_")]).to_string(
            index=False
        )
    )
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
