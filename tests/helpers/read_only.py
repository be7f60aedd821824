"""Folders that refuse writes to root too: tests run as root here, and root writes into a folder
whatever its mode says, through its capability CAP_DAC_OVERRIDE. Without it (still able to read
anything) root is refused where the mode says no, as any user is."""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path

CAP_DAC_OVERRIDE = 1
PR_CAPBSET_DROP = 24
CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, call: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), call)


@contextlib.contextmanager
def without_override_rights() -> Iterator[None]:
    """This thread without CAP_DAC_OVERRIDE while inside (a non-root user has none anyway)."""
    if os.geteuid() != 0:
        yield
        return
    header, data = _Header(CAPABILITY_VERSION_3, 0), (_Data * 2)()
    _check(_libc().capget(ctypes.byref(header), data), "capget")
    effective = data[0].effective
    data[0].effective = effective & ~(1 << CAP_DAC_OVERRIDE)
    _check(_libc().capset(ctypes.byref(header), data), "capset")
    try:
        yield
    finally:
        data[0].effective = effective
        _check(_libc().capset(ctypes.byref(header), data), "capset")


def child_without_override_rights() -> None:
    """A subprocess's ``preexec_fn``: the program it runs starts without CAP_DAC_OVERRIDE."""
    if os.geteuid() == 0:
        _check(_libc().prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0), "prctl")


def read_only(*paths: Path) -> None:
    for path in paths:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def writable(*paths: Path) -> None:
    for path in paths:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
