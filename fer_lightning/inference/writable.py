"""Where predict, export and visualize write: checked before the work, refused in one line.

A place that cannot be written fails otherwise only at the end of the work, in a traceback (a
folder given as the file, a parent that is a file, a read-only file system). A write that
fails later (a full disk, a folder changed meanwhile) is one line too, naming the option that
chose the place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fer_lightning.errors import UserError

RUN_FOLDER_FIX = "choose a folder you can write with hydra.run.dir=PATH"


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` (made where missing), or None.

    The nearest existing folder on the way is tried with a file no one sees (it has no name);
    permissions alone would pass a read-only file system, or anything when run as root.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"cannot write in {existing.absolute()} ({error.strerror or error})"
    return None


def run_folder_error(folder: Path, error: OSError) -> UserError:
    """A write into the run folder that failed, as one line with the fix."""
    return UserError(f"{folder}: cannot write there ({error.strerror or error}): {RUN_FOLDER_FIX}")


def check_file_target(path: Path, option: str, fix: str) -> Path:
    """The file to write at ``path`` (a link's target), or one line naming ``option``, ``fix``.

    Called before the work that makes the file: a folder given as the file, a parent that is a
    file, or a place that refuses writes would otherwise fail only at the end, in a traceback.
    """
    path = path.expanduser()
    if path.is_symlink():
        path = path.resolve()
    if path.is_dir():
        raise UserError(f"{option}: is a folder: {fix}")
    problem = folder_problem(path.parent)
    if problem:
        raise UserError(f"{option}: {problem}: {fix}")
    return path


@contextlib.contextmanager
def replacing(path: Path, option: str, fix: str) -> Iterator[Path]:
    """A fresh temporary path beside ``path``; on leaving without error it becomes ``path``.

    A failed write leaves no partial file, and every failure is one line naming ``option``.
    """
    path = check_file_target(path, option, fix)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Mode 0o666 through the umask, as a file the user wrote with open() would get.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(f"{option}: cannot write there ({reason}): {fix}") from None
    finally:
        tmp.unlink(missing_ok=True)
