"""The Lightning Trainer of a config, with a refused option said in one line that names it.

Lightning refuses an accelerator the machine lacks (``trainer=gpu`` without a GPU), an unknown
name or a bad count of devices while the Trainer is built; through Hydra's ``instantiate`` that
was a traceback of both. Every command builds its trainer here.
"""

from __future__ import annotations

import re
from typing import Any

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf

from fer_lightning.errors import UserError

# What a Trainer raises for options it cannot take (a missing accelerator's library: ImportError).
REFUSALS = (MisconfigurationException, ValueError, TypeError, ImportError)
ON_ANY_MACHINE = (
    "trainer.accelerator=auto (a GPU where there is one, else the CPU) or trainer.accelerator=cpu"
)


def build_trainer(options: DictConfig, **arguments: Any) -> L.Trainer:
    """``instantiate(options, **arguments)``; a refused option is a ``UserError``."""
    try:
        return instantiate(options, **arguments)
    except InstantiationException as error:
        if not isinstance(error.__cause__, REFUSALS):
            raise
        values = {**OmegaConf.to_container(options, resolve=True), **arguments}
        raise UserError(refusal(values, error.__cause__)) from None


def device_missing(accelerator: object) -> str | None:
    """What the machine lacks for ``accelerator`` (None: it has it, or the name is no device's)."""
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        return "CUDA GPU"
    mps = getattr(torch.backends, "mps", None)
    if accelerator == "mps" and not (mps and mps.is_available()):
        return "Apple MPS device"
    if accelerator == "tpu":
        return "usable TPU"
    return None


def refusal(values: dict[str, Any], error: BaseException) -> str:
    """The Trainer's refusal as one line: the option first, Lightning's reason, the fix."""
    reason = " ".join(str(error).split()) or type(error).__name__
    accelerator = values.get("accelerator")
    missing = device_missing(accelerator)
    if missing:
        return (
            f"trainer.accelerator={accelerator}: this machine has no {missing} ({reason}); "
            f"use {ON_ANY_MACHINE}"
        )
    key = named_option(values, reason)
    if key is None:
        return f"trainer: the Trainer refuses its options ({reason}): check trainer.* options"
    return (
        f"trainer.{key}={values[key]}: the Trainer refuses it ({reason}): change trainer.{key}, "
        f"or take the defaults with trainer=default (trainer=cpu on a machine without a GPU)"
    )


def named_option(values: dict[str, Any], reason: str) -> str | None:
    """The option Lightning's message names: as ``key=``, then as `key`, then as a word."""
    for pattern in (r"\b{}=", r"`{}`", r"'{}'", r"\b{}\b"):
        for key in values:
            if isinstance(key, str) and re.search(pattern.format(re.escape(key)), reason, re.I):
                return key
    return None
