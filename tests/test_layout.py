"""The package's shape: commands at the top stay thin and apart, modules stay readable in size.

A command that imports another drags that command's options and imports along and ties their
changes together: what two commands share belongs in the library (data, models, training,
inference, runs, plots) or in ``cli``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import fer_lightning

PACKAGE = Path(fer_lightning.__file__).resolve().parent
COMMANDS = ("train", "eval", "predict", "export", "visualize", "aug_preview", "report", "__main__")
# `python -m fer_lightning` is the train command under another name: its one allowed import.
ALIASES = {"__main__": {"train"}}
MAX_LINES = 300
# A longer module says why in its docstring, e.g. "longer than 300 lines: ...".
SAYS_WHY = re.compile(rf"\b{MAX_LINES} lines\b")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module a top-level module of the package imports, anywhere in it, by full name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import train, from .train import main
                assert node.level == 1, f"{path}: a relative import above the package"
                module = f"fer_lightning.{node.module}" if node.module else "fer_lightning"
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_every_command_is_a_module_at_the_top():
    assert all((PACKAGE / f"{name}.py").is_file() for name in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_no_command_imports_another(command):
    imported = imported_modules(PACKAGE / f"{command}.py")
    others = {
        other
        for other in COMMANDS
        if other != command and other not in ALIASES.get(command, set())
        if f"fer_lightning.{other}" in imported
        or any(name.startswith(f"fer_lightning.{other}.") for name in imported)
    }
    assert not others, f"fer_lightning/{command}.py imports the command(s) {sorted(others)}"


# The command shell: what only commands use (Hydra's main, argument checks, exit codes).
SHELL = ("cli", "cli_overrides", "cli_sweeps", "cli_folders")


def test_only_commands_import_the_command_shell():
    """Library code takes the config's resolvers and builders from ``config``, never from the
    shell around Hydra: a library that imports ``cli`` drags the command machinery along."""
    offenders = []
    for path in modules():
        name = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        if name in COMMANDS or name in SHELL:
            continue
        shell = {f"fer_lightning.{m}" for m in SHELL}
        imported = imported_modules(path)
        if imported & shell or any(i.startswith(tuple(f"{m}." for m in shell)) for i in imported):
            offenders.append(name)
    assert not offenders, f"library modules importing the command shell: {offenders}"


def test_the_import_finder_sees_each_form(tmp_path):
    """The rule above is only as good as this: absolute, from-, relative and nested imports."""
    source = tmp_path / "cmd.py"
    source.write_text(
        "import fer_lightning.predict\n"
        "from fer_lightning import export\n"
        "from .visualize import main\n"
        "def f():\n"
        "    from fer_lightning.report import main\n"
    )
    found = imported_modules(source)
    for command in ("predict", "export", "visualize", "report"):
        assert f"fer_lightning.{command}" in found, command


def test_no_module_is_longer_than_the_limit_without_saying_why():
    too_long = []
    for path in modules():
        text = path.read_text()
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > MAX_LINES and not SAYS_WHY.search(docstring):
            too_long.append(f"{path.relative_to(PACKAGE.parent)}: {len(text.splitlines())} lines")
    assert not too_long, (
        f"over {MAX_LINES} lines with no reason in the module docstring (split the module, or "
        f"say why it is one, e.g. 'longer than {MAX_LINES} lines: ...'): {too_long}"
    )
