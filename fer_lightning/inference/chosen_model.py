"""Which model a command runs: ``ckpt_path`` when given, else the shipped model ``pretrained``.

predict, export and visualize share this so that their outputs name the model the same way:
``pretrained:<name>`` for a shipped model (``fer_lightning.zoo``), the checkpoint's path (or the
paths of an ensemble) otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import ListConfig

from fer_lightning.errors import UserError
from fer_lightning.inference.classifier import Classifier
from fer_lightning.zoo import registry

PRETRAINED = "pretrained:"


def pretrained_option(value: Any) -> str | None:
    """``pretrained=...`` as a model name, or None; a list is one line (one model at a time)."""
    if value is None or value == "":
        return None
    if isinstance(value, ListConfig | list | tuple | Mapping):
        raise UserError(
            f"pretrained={value}: name one shipped model ({', '.join(registry.SHIPPED)}); "
            "an ensemble is ckpt_path=[a.ckpt,b.ckpt]"
        )
    return str(value)


def load_chosen(
    cfg: Any, device: str, tta: str | None = None, precision: str | None = None
) -> Classifier:
    """The classifier of ``cfg.ckpt_path``, or of the shipped model ``cfg.pretrained`` names;
    ``precision`` (else ``cfg.precision``, else auto) as the Classifier takes it."""
    pretrained = pretrained_option(cfg.get("pretrained"))
    if not cfg.get("ckpt_path") and not pretrained:
        raise UserError(
            f"no model given: pretrained=<name> for a shipped model ({', '.join(registry.SHIPPED)}"
            ") or ckpt_path=<run folder>/checkpoints/last.ckpt for one of yours"
        )
    precision = precision or str(cfg.get("precision") or "auto")
    return Classifier(
        cfg.get("ckpt_path"), tta=tta, device=device, pretrained=pretrained, precision=precision
    )


def shipped_name(classifier: Classifier) -> str | None:
    """The shipped model's name when ``classifier`` is one, else None."""
    first = classifier.paths[0]
    return first.removeprefix(PRETRAINED) if first.startswith(PRETRAINED) else None


def model_name(classifier: Classifier) -> str:
    """``pretrained:<name>``, a checkpoint's path, or an ensemble's paths joined by " + "."""
    return " + ".join(classifier.paths)


def card_figures(name: str) -> dict[str, Any]:
    """What the card of a shipped model says of its quality and its data, for outputs to carry."""
    card = registry.card(name)
    results, data, weights = card.get("results", {}), card.get("data", {}), card["weights"]
    return {
        "name": name,
        "classes": card["classes"],
        "data": data.get("name"),
        "terms": data.get("terms"),
        "split": results.get("split"),
        "accuracy": results.get("accuracy"),
        "macro_precision": results.get("macro_precision"),
        "macro_recall": results.get("macro_recall"),
        "macro_f1": results.get("macro_f1"),
        "per_class_recall": results.get("per_class_recall"),
        "params": card.get("params"),
        "weights_dtype": weights.get("dtype"),
        "weights_sha256": weights.get("sha256"),
        "training_command": card.get("training", {}).get("command"),
        "git_commit": card.get("training", {}).get("git_commit"),
    }


def describe(classifier: Classifier) -> str:
    """One line for the log: which model, and for a shipped one what its card reports."""
    name = shipped_name(classifier)
    classes = len(classifier.class_names)
    if name is None:
        kind = "checkpoint" if len(classifier.paths) == 1 else "ensemble of"
        return f"Model: {kind} {model_name(classifier)} ({classes} classes)"
    figures = card_figures(name)
    accuracy = figures["accuracy"]
    judged = (
        f", test accuracy {accuracy:.4f} on {figures['data']} {figures['split']}"
        if isinstance(accuracy, int | float)
        else ""
    )
    return f"Model: the shipped {name} ({classes} classes{judged}; {PRETRAINED}{name})"
