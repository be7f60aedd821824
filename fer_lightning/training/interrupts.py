"""A Lightning loop stopped by a signal: the shell's exit code and one line that says what is left.

Lightning turns SIGTERM into ``SIGTERMException`` (a ``SystemExit`` with code 0) and Ctrl-C into
``sys.exit(1)``, both after the callbacks' ``on_exception``: a scheduler would read success, or a
crash, from a run that stopped half-way. Every fit, test and evaluation runs inside
``signal_stops``, which turns them into ``Interrupted`` with 128 + the signal: 143 or 130.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import lightning as L
from lightning.pytorch.trainer.states import TrainerStatus
from lightning.pytorch.utilities.exceptions import SIGTERMException

from fer_lightning.errors import Interrupted


@contextlib.contextmanager
def signal_stops(trainer: L.Trainer, what_is_left: Callable[[str], str]) -> Iterator[None]:
    """Raise ``Interrupted`` for a loop of ``trainer`` that a signal stopped.

    ``what_is_left(signal_name)`` is the line, e.g. "stopped by SIGTERM; saved ...; resume ...".
    """
    try:
        yield
    except SystemExit as stop:
        if trainer.state.status != TrainerStatus.INTERRUPTED:
            raise
        sigterm = isinstance(stop, SIGTERMException)
        raise Interrupted(
            what_is_left("SIGTERM" if sigterm else "Ctrl-C"), 143 if sigterm else 130
        ) from None
