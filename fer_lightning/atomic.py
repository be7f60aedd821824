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


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


# Read once at import, not per file: while the umask is 0, a file another thread creates (the
# TensorBoard writer, a data loader) would be world-writable.
_UMASK = _read_umask()


@contextmanager
def replaced_atomically(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for ``path``; on leaving without error it replaces ``path``.

    An existing file keeps its permissions and a new one gets what ``open`` would have given it
    (mkstemp makes a private, 0600 file).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
