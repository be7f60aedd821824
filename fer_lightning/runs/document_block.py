"""Where a report puts its tables in a document of yours: ``--into FILE#NAME``, block NAME.

The tables go between the lines ``<!-- begin report NAME -->`` and ``<!-- end report NAME -->``
and replace what stood there, so a README's figures are regenerated, never pasted. Everything
that could refuse is checked when the block is read, before the report writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fer_lightning.atomic import check_replaceable, replaced_atomically
from fer_lightning.errors import UserError
from fer_lightning.runs.run_files import one_line


def through_links(path: Path, option: str) -> Path:
    """The file a link names: a report writes through a link, never replaces it by a file."""
    if not path.is_symlink():
        return path
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a loop, before Python 3.13
        raise UserError(f"{option}: {path} is a link that names no file ({error})") from error


@dataclass(frozen=True)
class Block:
    """The place for the tables in a document: its text before and after them, markers kept."""

    path: Path
    before: str
    after: str

    def fill(self, text: str) -> Path:
        with replaced_atomically(self.path, encoding="utf-8") as f:
            f.write(self.before + "\n" + text.strip("\n") + "\n\n" + self.after)
        return self.path


def read_block(target: str) -> Block:
    """Block NAME of FILE (``target`` is FILE#NAME), checked: a file, writable, UTF-8, its two
    marker lines once each and in order."""
    file, _, name = target.partition("#")
    shown = name or "results"
    begin, end = f"<!-- begin report {shown} -->", f"<!-- end report {shown} -->"
    markers = f"the lines '{begin}' and '{end}' around the place for the tables"
    if not name or not file:
        raise UserError(f"--into {target}: give FILE#NAME, e.g. README.md#results, with {markers}")
    path = through_links(Path(file), f"--into {target}")
    if not path.is_file():
        raise UserError(f"--into {target}: {file} is not a file")
    try:
        check_replaceable(path)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError as e:
        raise UserError(
            f"--into {target}: {file} is not UTF-8 text ({e.reason}); save it as UTF-8"
        ) from e
    except OSError as e:
        raise UserError(f"--into {target}: {file} cannot be read ({one_line(e)})") from e
    except UserError as e:
        raise UserError(f"--into {target}: {e}") from e
    stripped = [line.strip() for line in lines]
    if stripped.count(begin) != 1 or stripped.count(end) != 1:
        raise UserError(f"--into {target}: {file} needs {markers}, once each")
    first, last = stripped.index(begin), stripped.index(end)
    if last < first:
        raise UserError(f"--into {target}: in {file} '{end}' comes before '{begin}'")
    return Block(path, "".join(lines[: first + 1]), "".join(lines[last:]))
