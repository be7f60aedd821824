"""``export format=zoo``: a zoo entry (``<name>.safetensors`` + ``<name>.json``) from a run.

The shipped models are made this way, never edited by hand, so each is reproducible from the
run that trained it. The entry goes into the package's ``fer_lightning/zoo/models`` unless
``out=`` names another folder; shipping it is then one entry in ``registry.SHIPPED``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from omegaconf import ListConfig

from fer_lightning.errors import UserError
from fer_lightning.inference.writable import folder_problem
from fer_lightning.runs.checkpoints import read_checkpoint
from fer_lightning.zoo import registry
from fer_lightning.zoo.making import make_entry

log = logging.getLogger("fer_lightning")

# A name is a file stem on every system and a word for pretrained=...
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
RUN_CHECKPOINT = "ckpt_path=<run folder>/checkpoints/<best>.ckpt"


def entry_name(option: Any) -> str:
    name = "" if option is None else str(option)
    if not NAME.fullmatch(name):
        raise UserError(
            f"name={option}: format=zoo needs the entry's name, lower-case letters, digits, _ "
            "and - (e.g. name=ferplus)"
        )
    return name


def card_data(checkpoint: Path) -> str:
    """The card's data name from the run config: ferplus for FER+ labels, else fer2013
    (synthetic for the built-in faces, whose card must not claim FER2013's)."""
    data = read_checkpoint(checkpoint)["hyper_parameters"]["config"].get("data") or {}
    if data.get("source") == "synthetic":
        return "synthetic"
    return "ferplus" if data.get("labels") == "ferplus" else "fer2013"


def export_zoo(ckpt_path: Any, name: Any, out: Any) -> Path:
    """Write the zoo entry of the run of ``ckpt_path`` into ``out``; returns its card."""
    if not ckpt_path:
        raise UserError(f"format=zoo makes an entry from a run of yours: {RUN_CHECKPOINT}")
    if isinstance(ckpt_path, ListConfig | list | tuple):
        raise UserError(
            f"ckpt_path={ckpt_path}: a zoo entry is one run's model, not an ensemble: "
            f"{RUN_CHECKPOINT}"
        )
    stem = entry_name(name)
    folder = Path(str(out)).expanduser() if out else registry.models_dir()
    problem = folder_problem(folder)
    if problem:
        where = f"out={out}" if out else str(folder)
        raise UserError(f"{where}: {problem}: choose a folder you can write with out=DIR")
    checkpoint = Path(str(ckpt_path)).expanduser()
    card = make_entry(checkpoint, stem, folder, card_data(checkpoint))
    if stem not in registry.SHIPPED and folder.resolve() == registry.models_dir().resolve():
        log.info(
            "%s is not shipped yet: add %r to SHIPPED in fer_lightning/zoo/registry.py",
            stem,
            stem,
        )
    return card
