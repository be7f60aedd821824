"""Checkpoints edited as an attacker would, and the one error line a command answers with."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def tampered(real: Path, tmp: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the checkpoint ``real`` in ``tmp`` with ``edit`` applied to its stored config."""
    checkpoint = torch.load(real, map_location="cpu", weights_only=True)
    edit(checkpoint["hyper_parameters"]["config"])
    path = tmp / "tampered.ckpt"
    torch.save(checkpoint, path)
    return path


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The command's one ``error:`` line on stderr (exit status 2, no traceback)."""
    lines = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return lines[0]
