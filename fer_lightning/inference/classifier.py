"""The one inference path: checkpoint(s) -> the run's own preprocessing -> averaged probabilities.

Evaluation, prediction, export and visualization all go through here, so what a network sees
outside training cannot drift from what its run evaluated: the data module rebuilt from the
config inside the checkpoint does x/255, the channels, the evaluation crop and the normalization,
and ``average_probabilities`` averages the views. Several checkpoints make an ensemble.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import Tensor

from fer_lightning.data.augment import Augmentation
from fer_lightning.data.datamodule import datamodule_from_config
from fer_lightning.errors import UserError
from fer_lightning.models.averaging import Ensemble, average_probabilities
from fer_lightning.models.folding import fold_batch_norms
from fer_lightning.runs.checkpoints import read_checkpoint
from fer_lightning.runs.stored_config import safe_config
from fer_lightning.training.module import EmotionClassifier
from fer_lightning.training.precision import resolve_precision
from fer_lightning.zoo import registry

# What members of an ensemble must share: one input serves them all.
INPUT_FORMAT = ("model.input_size", "model.in_channels", "data.mean", "data.std")


def checkpoint_paths(option: Any) -> list[str]:
    """``ckpt_path``: one checkpoint, or a list of them (an ensemble)."""
    if not option:
        raise UserError(
            "no checkpoint given: ckpt_path=outputs/train/runs/<run>/checkpoints/last.ckpt "
            "(or a list [a.ckpt,b.ckpt] for an ensemble)"
        )
    if isinstance(option, ListConfig | list | tuple):
        return [str(p) for p in option]
    return [str(option)]


def load_classifier(path: str | Path) -> tuple[EmotionClassifier, DictConfig]:
    """The trained module in eval mode on the CPU, and the config of the run that made it."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    config = OmegaConf.create(hparams["config"])
    module = EmotionClassifier(
        net=instantiate(config.model),
        optimizer=None,
        class_names=hparams.get("class_names"),
        class_weights=hparams.get("class_weights"),
        label_smoothing=hparams.get("label_smoothing", 0.0),
        config=hparams["config"],
    )
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"{path}: its weights do not fit the network its config names "
            f"({config.model._target_}): {first}"
        ) from None
    return module.eval(), config


def load_pretrained(name: str) -> tuple[EmotionClassifier, DictConfig]:
    """A shipped model (``fer_lightning.zoo``) in eval mode on the CPU, and its run config."""
    weights, card_path = registry.files(name)
    card = registry.read_card(card_path)
    config = OmegaConf.create(safe_config(card["config"], card_path))
    net = instantiate(config.model)
    try:
        net.load_state_dict(registry.read_weights(weights, card))
    except (RuntimeError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"{weights}: its weights do not fit {config.model._target_}: {first}"
        ) from None
    module = EmotionClassifier(
        net=net,
        optimizer=None,
        class_names=card["classes"],
        config=OmegaConf.to_container(config),
    )
    return module.eval(), config


def load_models(paths: Sequence[str | Path]) -> tuple[EmotionClassifier, DictConfig]:
    """One classifier, or an ensemble of several that share an input format; the first's config."""
    loaded = [load_classifier(p) for p in paths]
    module, config = loaded[0]
    if len(loaded) == 1:
        return module, config
    for path, (_, other) in zip(paths[1:], loaded[1:], strict=True):
        for key in INPUT_FORMAT:
            if OmegaConf.select(other, key) != OmegaConf.select(config, key):
                raise UserError(
                    f"{path}: {key} differs from {paths[0]}'s; an ensemble needs one input format"
                )
    net = Ensemble([m.net for m, _ in loaded])
    return EmotionClassifier(net=net, optimizer=None, class_names=module.class_names), config


def pick_device(option: str) -> torch.device:
    """``auto``: the GPU when there is one (CUDA, then Apple's MPS), else the CPU."""
    if option == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(option)
    except RuntimeError:
        raise UserError(f"device={option!r} is unknown: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device={option}: this machine has no CUDA GPU; use device=cpu or auto")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(
            f"device={option}: there are {torch.cuda.device_count()} GPUs (cuda:0 to "
            f"cuda:{torch.cuda.device_count() - 1}); use one of them or device=auto"
        )
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and not (mps and mps.is_available()):
        raise UserError(f"device={option}: this machine has no Apple GPU; use device=cpu or auto")
    return device


PRECISIONS = ("auto", "32", "bf16")


def inference_precision(option: str | int, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where ``device`` computes bf16 natively, else ``32``."""
    option = str(option)
    if option not in PRECISIONS:
        raise UserError(f"precision={option!r} is unknown: use one of {', '.join(PRECISIONS)}")
    if option != "auto":
        return option
    accelerator = "gpu" if device.type == "cuda" else device.type
    if device.type not in ("cpu", "cuda"):
        return "32"  # Apple's MPS: bf16 autocast support varies by release
    return "bf16" if resolve_precision("auto", accelerator) == "bf16-mixed" else "32"


class Classifier:
    """uint8 faces [N, 48, 48] -> class probabilities [N, classes], as the run evaluated them.

    ``ckpt_path``: one checkpoint or a list (an ensemble); without it, the shipped model
    ``pretrained`` names (``fer_lightning.zoo``).
    ``tta``: test-time augmentation (none, hflip, tencrop); None keeps the run's own.
    ``data``: overrides of the run's data config (where and how to read a split to evaluate).
    ``precision``: ``auto`` runs the network under bf16 autocast where the device computes bf16
    natively (the rule ``trainer.precision=auto`` follows), else fp32; ``32`` or ``bf16`` force
    one. Batch norms are folded into their convolutions for ``__call__`` (``net`` keeps them).
    """

    def __init__(
        self,
        ckpt_path: Any = None,
        tta: str | None = None,
        device: str = "auto",
        data: Mapping[str, Any] | None = None,
        pretrained: str | None = None,
        precision: str = "auto",
    ) -> None:
        if ckpt_path or not pretrained:
            self.paths = checkpoint_paths(ckpt_path)
            self.module, self.config = load_models(self.paths)
        else:
            self.paths = [f"pretrained:{pretrained}"]
            self.module, self.config = load_pretrained(pretrained)
        self.class_names: tuple[str, ...] = tuple(self.module.class_names)
        self.device = pick_device(device)
        self.net = self.module.net.to(self.device).eval()
        if self.config.get("channels_last", True):  # as the run trained: faster convolutions
            self.net = self.net.to(memory_format=torch.channels_last)
        self.precision = inference_precision(precision, self.device)
        self.fast_net = fold_batch_norms(self.net)
        # The data cache is this machine's choice (eval passes it), never the checkpoint's.
        data_cfg = OmegaConf.merge(self.config.data, {"cache_dir": None}, dict(data or {}))
        self.datamodule = datamodule_from_config(
            data_cfg, self.config.get("aug"), len(self.class_names), tta=tta
        )
        self.augmentation = self.datamodule.augmentation
        self.seconds = 0.0  # time spent in the network, for throughput lines

    def inputs(
        self, faces: np.ndarray | Tensor, augmentation: Augmentation | None = None
    ) -> Tensor:
        """The network's input for the faces: the run's evaluation views, or ``augmentation``'s."""
        images = torch.as_tensor(np.ascontiguousarray(faces)).to(self.device)
        labels = torch.zeros(len(images), dtype=torch.int64, device=self.device)
        x, _, _ = self.datamodule.preprocess(images, labels, train=False, augmentation=augmentation)
        return x

    @torch.inference_mode()
    def __call__(self, faces: np.ndarray | Tensor) -> np.ndarray:
        start = time.perf_counter()
        bf16 = self.precision == "bf16"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            probs = average_probabilities(self.fast_net, self.inputs(faces))
        probs = probs.float().cpu().numpy()
        self.seconds += time.perf_counter() - start
        return probs
