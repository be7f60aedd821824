"""A zoo entry made from a run: its best checkpoint's network as safetensors, and a card.

The card holds what a user needs to trust and use the model (classes, input, the evaluation
views, the run's command, commit, machine and time, the data and its terms) and the figures of
the shipped weights on the run's own test split, measured here through the inference path the
API uses. Weights are stored in float16 when that moves test accuracy by at most
``MAX_HALF_COST`` points against float32 (measured, and stated in the card), else float32.
"""

from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from fer_lightning.errors import UserError
from fer_lightning.zoo.registry import CARD_FORMAT, sha256

log = logging.getLogger("fer_lightning")

MAX_HALF_COST = 0.05  # accuracy points
# Parts of a run config a model needs at inference: the network, the preprocessing, the views.
KEPT = ("model", "data", "aug", "choices")
TERMS = {
    "fer2013": "FER2013 (Goodfellow et al., ICML 2013 challenge): for research use only",
    "ferplus": "FER2013 images with FER+ labels (Microsoft, MIT licence for the labels); the "
    "FER2013 images are for research use only",
}


def judge(classifier: Any, split: str) -> dict[str, float]:
    """Test metrics of ``classifier`` on the run's ``split`` in float32 (eval's own path)."""
    import lightning as L

    classifier.datamodule.test_split = split
    classifier.datamodule.setup("test")
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        precision="32-true",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.test(classifier.module, datamodule=classifier.datamodule, verbose=False)
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}


def rounded(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}


def run_files(checkpoint: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's final_metrics.json and run_info.json beside ``<run>/checkpoints/x.ckpt``."""
    run = checkpoint.resolve().parent.parent
    found = []
    for path in (run / "final_metrics.json", run / ".hydra" / "run_info.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as error:
            raise UserError(
                f"{path}: a zoo entry is made from a finished run's folder ({error}); give "
                "ckpt_path=<run>/checkpoints/<best>.ckpt of a run trained to its end"
            ) from None
    return found[0], found[1]


def readable_command(command: str | None) -> str | None:
    """``python -m fer_lightning ...`` for the interpreter and script path run_info records."""
    if not command:
        return command
    argv = shlex.split(command)
    script = Path(argv[1]) if len(argv) > 1 else None
    if script is None or script.parent.name != "fer_lightning" or script.suffix != ".py":
        return command
    module = "fer_lightning" if script.stem == "__main__" else f"fer_lightning.{script.stem}"
    return shlex.join(["python", "-m", module, *argv[2:]])


def make_entry(checkpoint: Path, name: str, out_dir: Path, data: str) -> Path:
    """Write ``<name>.safetensors`` and ``<name>.json`` into ``out_dir``; returns the card."""
    from safetensors.torch import save_file

    from fer_lightning.inference.classifier import Classifier

    metrics, info = run_files(checkpoint)
    classifier = Classifier(str(checkpoint), device="cpu", precision="32")  # the card's figures
    config = OmegaConf.to_container(classifier.config, resolve=True)
    if int(metrics.get("epochs", 0)) < int(config.get("trainer", {}).get("max_epochs") or 0):
        raise UserError(f"{checkpoint}: its run stopped before trainer.max_epochs; finish it first")
    split = str(config["data"].get("test_usage") or "test")
    net = classifier.module.net
    full = {k: v.detach().clone() for k, v in net.state_dict().items()}
    measured = {"float32": judge(classifier, "test")}
    net.load_state_dict(rounded(full, torch.float16))
    measured["float16"] = judge(classifier, "test")
    cost = 100 * (measured["float32"]["test/acc"] - measured["float16"]["test/acc"])
    dtype = "float16" if abs(cost) <= MAX_HALF_COST else "float32"
    shipped = measured[dtype]

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{name}.safetensors"
    stored = rounded(full, getattr(torch, dtype))
    save_file({k: v.contiguous() for k, v in stored.items()}, str(weights))
    weights.chmod(0o644)  # package data: safetensors writes owner-only files
    classes = list(classifier.class_names)
    aug = config.get("aug") or {}
    card = {
        "format": CARD_FORMAT,
        "name": name,
        "classes": classes,
        "input": {
            "size": int(config["model"].get("input_size", 48)),
            "channels": int(config["model"].get("in_channels", 1)),
            "faces": "grey 48x48 crops, x / 255, then (x - mean) / std per channel",
            "mean": config["data"].get("mean"),
            "std": config["data"].get("std"),
            "eval_crop": (aug.get("crop") or {}).get("eval"),
            "crop_size": (aug.get("crop") or {}).get("size"),
            "tta": aug.get("tta"),
        },
        "params": int(sum(p.numel() for p in net.parameters())),
        "weights": {
            "file": weights.name,
            "dtype": dtype,
            "sha256": sha256(weights),
            "half_precision_check": {
                "split": split,
                "float32_acc": measured["float32"]["test/acc"],
                "float16_acc": measured["float16"]["test/acc"],
                "cost_points": round(cost, 4),
                "rule": f"float16 when it costs at most {MAX_HALF_COST} points, else float32",
            },
        },
        "results": {
            "split": split,
            "measured_by": "fer_lightning.zoo.making (float32 compute, the shipped weights)",
            "accuracy": shipped["test/acc"],
            "macro_precision": shipped.get("test/precision"),
            "macro_recall": shipped.get("test/recall"),
            "macro_f1": shipped.get("test/f1"),
            "per_class_recall": {c: shipped.get(f"test/recall/{c}") for c in classes},
        },
        "run_results": {
            k: v for k, v in metrics.items() if k.startswith(("test/", "val/acc_best"))
        },
        "training": {
            "command": readable_command(info.get("command")),
            "git_commit": info.get("git_commit"),
            "started": info.get("started"),
            "machine": info.get("machine"),
            "precision": metrics.get("precision"),
            "epochs": metrics.get("epochs"),
            "train_time_s": metrics.get("train_time_s"),
            "selection": "the epoch with the best val/acc (validation carved from Training)",
        },
        "data": {
            "name": data,
            "file": Path(str(config["data"].get("path"))).name,
            "test_split": split,
            "terms": TERMS.get(data, "see the data set's own terms"),
        },
        "config": {k: config[k] for k in KEPT if k in config},
    }
    # Where the run's machine kept its files says nothing here: names only, no cache.
    data_cfg = card["config"]["data"]
    data_cfg.pop("cache_dir", None)
    for key in ("path", "ferplus_path"):
        if data_cfg.get(key):
            data_cfg[key] = Path(str(data_cfg[key])).name
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    log.info("Wrote %s and %s (%s, test accuracy %.4f)", weights, path, dtype, shipped["test/acc"])
    return path
