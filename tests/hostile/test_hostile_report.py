"""The report as a careless or hostile user drives it: shared ledgers, edited cells, links,
refused documents, other locales. Nothing is lost, nothing is injected into a README, and a
refusal is one line that changes nothing. Broken files: test_hostile_report_files.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from fer_lightning.report import main as report_main
from tests.helpers.report_runs import (
    BEGIN,
    END,
    OUTPUTS,
    README,
    make_run,
    one_error_line,
    snapshot,
)

# 1. Two reports on one ledger at once: each waits for the other's read-modify-write.

CONCURRENT_REPORT = """
import sys, time
from pathlib import Path
import fer_lightning.report as report

read = report.read_ledger

def slow_read(path):
    rows = read(path)
    time.sleep(1.0)  # the other report reads meanwhile unless the ledger is locked
    return rows

report.read_ledger = slow_read
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.01)
report.main(sys.argv[3:])
"""


@pytest.mark.e2e
def test_two_reports_on_one_ledger_at_once_keep_every_row(tmp_path):
    ledger = tmp_path / "docs" / "results.csv"
    ledger.parent.mkdir()
    ledger.write_text("run,labels,epochs,params,test_acc\nold,fer2013,2,10,0.5\n")
    go = tmp_path / "go"
    writers = []
    for name in ("a", "b"):
        make_run(tmp_path / f"runs_{name}", f"run_{name}")
        args = [str(tmp_path / f"runs_{name}"), "--out", str(tmp_path / f"out_{name}")]
        command = [sys.executable, "-c", CONCURRENT_REPORT, str(tmp_path / f"ready_{name}")]
        writers.append(
            subprocess.Popen(
                [*command, str(go), *args, "--ledger", str(ledger)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready_{n}").exists() for n in "ab"):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers)
        time.sleep(0.02)
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-2000:]
    rows = pd.read_csv(ledger, dtype={"run": str})
    assert sorted(rows["run"]) == ["old", "run_a", "run_b"]
    assert [p.name for p in ledger.parent.iterdir()] == ["results.csv"]  # no lock file left


# 2. Cells anyone may edit (a ledger's, a run's overrides) stay inside their table cell.

HOSTILE_CELLS = [
    "a|b",
    "ends with a backslash \\",
    "escaped \\| pipe",
    "two\nlines",
    "carriage\r\nreturn",
    "line\u2028separator",
    "<b>bold</b> & <i>more</i>",
    "<script>alert(1)</script>",
    END,
    f"\n{END}\n\n<!-- begin report results -->\n",
]


def rendered_tables(text: str) -> list[list[list[str]]]:
    """Each table of a Markdown document, as rows of cell texts, the way a renderer reads it."""
    tables: list[list[list[str]]] = []
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            tables[-1].append([])
        elif token.type == "inline" and tables and tables[-1] and token.level > 3:
            assert all(c.type != "html_inline" for c in token.children or []), token.content
            tables[-1][-1].append("".join(c.content for c in token.children or []))
    return tables


@pytest.mark.parametrize("cell", HOSTILE_CELLS)
def test_hostile_cells_stay_in_their_cell_and_out_of_the_readme(tmp_path, capsys, cell):
    runs = tmp_path / "runs"
    make_run(runs, "now", overrides=[f"+note={cell}"])
    ledger = tmp_path / "results.csv"
    pd.DataFrame(
        {
            "run": [f"old {cell}"],
            "labels": ["fer2013"],
            "epochs": [2],
            "max_epochs": [2],
            "params": [10],
            "test_acc": [0.5],
            "hardware": [cell],
            f"note {cell}": ["x"],
        }
    ).to_csv(ledger, index=False)
    readme = tmp_path / "README.md"
    readme.write_text(README)
    into = ["--into", f"{readme}#results"]
    report_main([str(runs), "--out", str(tmp_path / "out"), "--ledger", str(ledger), *into])
    text = readme.read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert lines.count(BEGIN) == 1 and lines.count(END) == 1, text
    assert text.startswith(README.split("| stale")[0]) and text.endswith(f"{END}\n\nText after.\n")
    html = [
        t.content.strip()
        for t in MarkdownIt("commonmark").parse(text)
        if t.type == "html_block" or "<" in t.content.replace("&lt;", "")
    ]
    assert html == [BEGIN, END], html
    shown = " ".join(cell.split())  # a cell is one line: its line breaks show as spaces
    results, recall = rendered_tables(text)
    header = results[0]
    assert all(len(row) == len(header) for row in results), results
    assert f"note {shown}" in header
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in results[1:]}
    assert rows[f"old {shown}"]["hardware"] == shown
    assert rows["now"]["overrides"] == " ".join(f"+note={cell}".split())
    assert all(len(row) == len(recall[0]) for row in recall)
    # The ledger keeps every value as it was written: escaping is for the table only.
    kept = pd.read_csv(ledger, dtype=str, keep_default_na=False)
    assert kept.set_index("run").loc[f"old {cell}", "hardware"] == cell
    assert kept.set_index("run").loc["now", "overrides"] == f"+note={cell}"


def test_dollar_signs_in_labels_are_text_not_mathematics(tmp_path, capsys):
    """Matplotlib reads $...$ as mathematics: a label such as an override's value must not be."""
    runs = tmp_path / "runs"
    make_run(runs, "a", overrides=["+note=$\\frac$"])
    make_run(runs, "b", overrides=["+note=$\\unknown{$"])
    report_main([str(runs), "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "test_accuracy.png").stat().st_size > 0


# 3. --into and --ledger through a symbolic link: the link stays, its target is written.


def test_into_and_ledger_through_links_write_their_targets(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "now")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text(README)
    (docs / "results.csv").write_text("run,labels,epochs,params,test_acc\nold,fer2013,2,10,0.5\n")
    (tmp_path / "LINK.md").symlink_to(docs / "README.md")
    (tmp_path / "ledger.csv").symlink_to(Path("docs") / "results.csv")  # a relative link
    into = ["--into", f"{tmp_path / 'LINK.md'}#results"]
    ledger = ["--ledger", str(tmp_path / "ledger.csv")]
    report_main([str(runs), "--out", str(tmp_path / "out"), *ledger, *into])
    assert (tmp_path / "LINK.md").is_symlink() and (tmp_path / "ledger.csv").is_symlink()
    assert "| now " in (docs / "README.md").read_text()
    assert sorted(pd.read_csv(docs / "results.csv")["run"]) == ["now", "old"]
    assert sorted(p.name for p in docs.iterdir()) == ["README.md", "results.csv"]


# 4. A refused --into changes nothing: every target is checked before anything is written.


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("no markers here\n", "needs the lines"),
        (f"{END}\n{BEGIN}\n", "comes before"),
        ("café\n".encode("latin-1"), "not UTF-8"),
        (None, "is not a file"),
        ("folder", "is not a file"),
    ],
)
def test_a_refused_into_leaves_the_ledger_and_outputs_as_they_were(
    tmp_path, capsys, document, message
):
    runs = tmp_path / "runs"
    make_run(runs, "now")
    ledger_text = "run,labels,epochs,params,test_acc\nold,fer2013,2,10,0.5\n"
    (tmp_path / "results.csv").write_text(ledger_text)
    out = tmp_path / "out"
    out.mkdir()
    for name in OUTPUTS:
        (out / name).write_text(f"the previous {name}")
    readme = tmp_path / "README.md"
    if document == "folder":
        readme.mkdir()
    elif isinstance(document, bytes):
        readme.write_bytes(document)
    elif document is not None:
        readme.write_text(document)
    before = snapshot(tmp_path)
    err = one_error_line(
        capsys,
        str(runs),
        "--out",
        str(out),
        "--ledger",
        str(tmp_path / "results.csv"),
        "--into",
        f"{readme}#results",
    )
    assert err.startswith(f"error: --into {readme}#results: ") and message in err
    assert snapshot(tmp_path) == before


def test_a_new_out_folder_is_not_made_when_into_is_refused(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "now")
    (tmp_path / "README.md").write_text("no markers\n")
    for into in (tmp_path / "missing.md", tmp_path / "README.md"):
        new = ["--out", str(tmp_path / "new" / "out"), "--ledger", str(tmp_path / "new.csv")]
        one_error_line(capsys, str(runs), *new, "--into", f"{into}#results")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "runs"]


@pytest.mark.e2e
def test_a_locale_that_is_not_utf8_still_reads_and_writes_utf8(tmp_path):
    """Ledgers and READMEs are UTF-8 whatever the machine's locale (an ASCII one here): read
    and written as such, never refused as "not UTF-8" nor rewritten in another encoding."""
    make_run(tmp_path / "runs", "now")
    readme = f"# Café ✓\n\n{BEGIN}\n{END}\n"
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    ledger = "run,labels,epochs,params,test_acc,hardware\nold,fer2013,2,10,0.5,Café ✓\n"
    (tmp_path / "results.csv").write_text(ledger, encoding="utf-8")
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    args = ["runs", "--out", "out", "--ledger", "results.csv", "--into", "README.md#results"]
    result = subprocess.run(
        [sys.executable, "-m", "fer_lightning.report", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    text = (tmp_path / "README.md").read_bytes().decode("utf-8")
    assert text.startswith("# Café ✓\n") and "| Café ✓ " in text
    kept = pd.read_csv(tmp_path / "results.csv", encoding="utf-8").set_index("run")
    assert kept.loc["old", "hardware"] == "Café ✓"


def test_path_names_that_are_not_utf8_are_written_and_shown(tmp_path, capsys):
    """A file name of bytes that are not UTF-8 (from an old archive) reaches Python as escaped
    characters: the report writes there and shows the name, escaped, on the terminal."""
    make_run(tmp_path / "runs", "now")
    out, ledger = tmp_path / "out\udcff", tmp_path / "results\udcfe.csv"
    report_main([str(tmp_path / "runs"), "--out", str(out), "--ledger", str(ledger)])
    assert "wrote " in capsys.readouterr().out
    assert (out / "results.md").is_file() and ledger.is_file()
