"""One read-modify-write at a time on a file: an exclusive lock, held from the read to the write.

Two commands that each read a file (a results ledger, a README), change it and write it back
would each write back what they read, and the changes of one would be lost. Each takes the lock
``.NAME.lock`` beside the file first. The lock is ``flock(2)`` on that file (Linux and macOS;
the kernel drops it when its holder dies, so a killed command never leaves the file locked),
and the holder removes the lock file when done: nothing is left beside a file committed to git.
A waiter that then holds the lock on a removed file notices and takes the new one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from fer_lightning.errors import UserError


def lock_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), path.stat())
    except FileNotFoundError:
        return False


@contextmanager
def _held(path: Path, waiting: Callable[[Path], None] | None) -> Iterator[None]:
    lock = lock_file(path)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise UserError(f"{path}: cannot make its lock {lock} ({error.strerror})") from error
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting is not None:
                    waiting(path)
                fcntl.flock(fd, fcntl.LOCK_EX)
            # The holder before removed the lock file: a third command may hold a new one.
            if _same_file(fd, lock):
                try:
                    yield
                finally:
                    lock.unlink(missing_ok=True)  # while still held: see the check above
                return
        finally:
            os.close(fd)


@contextmanager
def held_exclusively(
    paths: Iterable[Path], waiting: Callable[[Path], None] | None = None
) -> Iterator[None]:
    """Hold the lock of each file of ``paths`` (which need not exist yet; its folder must);
    ``waiting(path)`` is called before waiting for another holder of ``path``'s lock.

    Locks are taken in path order, so two commands that need the same two files never each
    hold one and wait for the other.
    """
    with ExitStack() as stack:
        for path in sorted({Path(os.path.abspath(p)) for p in paths}):
            stack.enter_context(_held(path, waiting))
        yield
