"""The results ledger: a CSV, committed beside a README, of every run its tables show.

A README's tables are regenerated from run folders, but run folders are never committed and do
not outlive the machine they were trained on (a clean checkout, another machine, a deleted
``outputs/``). Regenerated from the folders alone, a table would drop every result trained
elsewhere without a word. The ledger keeps those rows: ``report --ledger FILE`` reads it, lets
each run read now replace its own row (same ``run`` name) or join, and writes it back.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fer_lightning.atomic import replaced_atomically
from fer_lightning.errors import DataError, UserError

# The counts among a results row's columns (fer_lightning.runs.results.run_row).
WHOLE_NUMBERS = {"seed", "epochs", "max_epochs", "params"}
# Its other numbers; the per-class recalls are the columns named recall_<class>.
FRACTIONS = {"lr", "best_val_acc", "test_acc", "test_loss", "report_acc", "train_min"}
FRACTIONS |= {"test_macro_precision", "test_macro_recall", "test_macro_f1"}
# The columns every row a report writes has a value in: a ledger without them was not written by
# one (or was cut down since).
REQUIRED = ("labels", "epochs", "params")


def _numbers(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The number columns as numbers, or the first cell that is none, by row and run."""
    for column in table.columns:
        whole = column in WHOLE_NUMBERS
        if not (whole or column in FRACTIONS or column.startswith("recall_")):
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        wrong = values.isna() & table[column].notna()
        if whole:
            wrong |= values.notna() & (values % 1 != 0)
        if wrong.any():
            row = int(wrong.to_numpy().argmax())
            raise DataError(
                f"--ledger {path}: row {row + 1} (run {table['run'].iloc[row]!r}): {column} "
                f"{table[column].iloc[row]!r} is not a {'whole ' if whole else ''}number; "
                "correct that cell, or restore it from git"
            )
        table[column] = values.astype("Int64") if whole else values
    return table


def read_ledger(path: Path) -> pd.DataFrame | None:
    """The ledger's rows, or None where there is none yet (the first report starts it)."""
    if not path.exists():
        return None
    if path.is_dir():
        raise UserError(f"--ledger {path}: is a folder; give its CSV file, e.g. {path}/NAME.csv")
    try:
        # Read as text and converted column by column: a cell that is not a number is named.
        table = pd.read_csv(path, dtype=str, encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(
            f"--ledger {path}: not UTF-8 text ({e.reason}); save it as UTF-8, or restore it "
            "from git"
        ) from e
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise UserError(f"--ledger {path}: not a results CSV ({e}); restore it from git") from e
    except OSError as e:
        raise UserError(f"--ledger {path}: cannot be read ({e.strerror})") from e
    if "run" not in table or table["run"].isna().any() or table["run"].duplicated().any():
        raise UserError(
            f"--ledger {path}: needs a 'run' column naming each run once; restore it from git"
        )
    missing = [column for column in REQUIRED if column not in table]
    if missing:
        raise UserError(
            f"--ledger {path}: lacks the columns {', '.join(missing)} that every report writes; "
            "restore it from git, or give a new file to start another ledger"
        )
    return _numbers(table, path)


def _column_order(new: pd.DataFrame, old: pd.DataFrame) -> list[str]:
    """The new table's columns, each column only the ledger has placed after its neighbour
    there: a column no run read now has (``report_acc``, say) stays where readers know it."""
    columns = list(new.columns)
    for i, column in enumerate(old.columns):
        if column not in columns:
            before = old.columns[i - 1] if i else None
            columns.insert(columns.index(before) + 1 if before in columns else 0, column)
    return columns


def merge_into_ledger(table: pd.DataFrame, ledger: pd.DataFrame | None) -> pd.DataFrame:
    """Rows of runs read now, with the ledger's rows of every other run, in run-name order
    (run names begin with their start time)."""
    merged = table
    if ledger is not None and not ledger.empty:
        kept = ledger[~ledger["run"].isin(table["run"])]
        merged = pd.concat([kept, table], ignore_index=True)[_column_order(table, ledger)]
    # A count turns float where a row lacks it (NaN): keep it whole, or it prints as 42.0000.
    for column in WHOLE_NUMBERS.intersection(merged.columns):
        merged[column] = pd.to_numeric(merged[column]).astype("Int64")
    return merged.sort_values("run", kind="stable").reset_index(drop=True)


def write_ledger(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path, encoding="utf-8") as f:
        table.to_csv(f, index=False)
    return path
