"""Files rewritten whole or not at all: a temporary file beside the target, then a rename.

A process killed mid-write (Ctrl-C, a full disk, the session's end) then leaves the old file as
it was, never a truncated one that a later run would read as the truth (a cache, a README).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from fer_lightning.errors import UserError


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


# Read once at import, not per file: while the umask is 0, a file another thread creates (the
# TensorBoard writer, a data loader) would be world-writable.
_UMASK = _read_umask()


@contextmanager
def replaced_atomically(
    path: Path, mode: str = "w", encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file for ``path``; on leaving without error it replaces ``path``.

    An existing file keeps its permissions and a new one gets what ``open`` would have given it
    (mkstemp makes a private, 0600 file).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _writable(path: Path) -> bool:
    # Write bits are honoured for every user, the superuser too (a command run as root in a
    # container): a file or folder marked read-only is kept so on purpose.
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def check_replaceable(path: Path) -> None:
    """Refuse, before anything is written, a ``path`` that ``replaced_atomically`` could not or
    should not replace: a folder, a read-only file, or one whose folder (or the nearest folder
    there is, where it is still to be made) no file can be made in."""
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a file")
    if path.exists() and not _writable(path):
        raise UserError(f"{path} is read-only: make it writable (chmod u+w {path})")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder")
    if not _writable(folder):
        raise UserError(f"the folder {folder} is read-only: make it writable (chmod u+w {folder})")
