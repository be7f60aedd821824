"""The models shipped inside the package: a safetensors file and a JSON card per name.

Adding a model is one file pair in ``fer_lightning/zoo/models/`` (made from a run by
``python -m fer_lightning.export ckpt_path=<run best> format=zoo name=<name>``) and one entry in
``SHIPPED``. Nothing on this path unpickles: the weights are safetensors, the card is JSON, and
the card's run config goes through the same checks as a checkpoint's before anything is built.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from pathlib import Path
from typing import Any

from fer_lightning.errors import UserError

# The shipped models, by name: what from_pretrained, predict pretrained=..., eval, export and
# visualize accept. The first is the default of the commands.
SHIPPED = ("ferplus", "fer2013")
CARD_FORMAT = "fer_lightning-zoo/1"


def models_dir() -> Path:
    return Path(str(importlib.resources.files("fer_lightning.zoo") / "models"))


def files(name: str) -> tuple[Path, Path]:
    """(weights, card) of a shipped model; one line naming the known ones otherwise."""
    if name not in SHIPPED:
        raise UserError(
            f"pretrained={name!r} is not a shipped model: use one of {', '.join(SHIPPED)} "
            "(or ckpt_path=... for a checkpoint of yours)"
        )
    weights, card = models_dir() / f"{name}.safetensors", models_dir() / f"{name}.json"
    if not weights.is_file() or not card.is_file():
        raise UserError(
            f"pretrained={name}: {weights.name} or {card.name} is missing from {models_dir()} "
            "(reinstall fer_lightning)"
        )
    return weights, card


def read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a readable model card ({type(error).__name__})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise UserError(f"{path}: not a fer_lightning model card (format {CARD_FORMAT})")
    for key in ("classes", "config", "weights"):
        if key not in card:
            raise UserError(f"{path}: the model card has no {key!r}")
    return card


def card(name: str) -> dict[str, Any]:
    """The card of a shipped model: classes, input, figures, how it was trained."""
    return read_card(files(name)[1])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_weights(weights: Path, card: dict[str, Any]) -> dict[str, Any]:
    """The tensors of a weights file the card vouches for (its SHA-256), as float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    expected = str(card["weights"].get("sha256", ""))
    if sha256(weights) != expected:
        raise UserError(
            f"{weights}: its SHA-256 differs from the one its card states: the file was changed "
            "or damaged (reinstall fer_lightning, or make the entry again from its run)"
        )
    try:
        tensors = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(f"{weights}: not a readable safetensors file ({error})") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
