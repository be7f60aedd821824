"""The model the inference rows time: the shipped one when the package has it, else a stand-in.

Until the shipped ``ferplus`` weights exist, the stand-in is the same network with the same
evaluation views (``experiment=ferplus_cpu``'s CompactVGG, 40x40 centre crop and its mirror
image), trained for two steps on synthetic faces and made into a zoo entry in a temporary
folder by the package's own ``make_entry``, so it loads through ``from_pretrained`` exactly as
the shipped model will. Only speed is measured: untrained weights cost the same as trained ones.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline_bench.clock import say

MODEL = "ferplus"
# A run of the shipped recipe that ends in seconds: its network and views, none of its data.
STANDIN_RUN = (
    "experiment=ferplus_cpu",
    "data=synthetic",
    "data.synthetic_size=280",
    "data.batch_size=16",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "callbacks=minimal",
    "logger=none",
)
STANDIN_TIMEOUT_S = 600


def is_shipped(name: str) -> bool:
    from fer_lightning.errors import UserError
    from fer_lightning.zoo import registry

    try:
        registry.files(name)
    except UserError:
        return False
    return True


def make_standin(name: str, tmp: Path) -> Path:
    """Train ``STANDIN_RUN`` in ``tmp`` and make ``<name>`` of its best checkpoint; the folder."""
    from fer_lightning.zoo.making import make_entry

    say(f"no shipped {name!r} model yet: training a stand-in ({' '.join(STANDIN_RUN)}) ...")
    overrides = [*STANDIN_RUN, f"paths.log_dir={tmp / 'runs'}", f"paths.cache_dir={tmp / 'cache'}"]
    done = subprocess.run(
        [sys.executable, "-m", "fer_lightning", *overrides],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=STANDIN_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the stand-in's run failed:\n{done.stderr[-2000:]}")
    (best,) = (tmp / "runs").glob("train/runs/*/checkpoints/epoch*.ckpt")
    folder = tmp / "zoo"
    make_entry(best, name, folder, "synthetic")
    return folder


def load_recognizer(tmp: Path, name: str = MODEL) -> tuple[Any, str]:
    """``EmotionRecognizer.from_pretrained(name)`` on the CPU, and a line naming what it is."""
    from fer_lightning import EmotionRecognizer
    from fer_lightning.zoo import registry

    if is_shipped(name):
        rec = EmotionRecognizer.from_pretrained(name, device="cpu")
        weights = rec.card["weights"]
        described = (
            f"the shipped `{name}` model (`fer_lightning/zoo/models/{weights['file']}`, "
            f"{weights['dtype']} storage, sha256 {weights['sha256'][:12]})"
        )
        return rec, described
    folder = make_standin(name, tmp)
    # This process only: from_pretrained reads the stand-in's folder as the package's zoo.
    registry.models_dir = lambda: folder
    rec = EmotionRecognizer.from_pretrained(name, device="cpu")
    described = (
        f"a stand-in for `{name}` (not shipped yet): the same network and views from "
        f"`{' '.join(STANDIN_RUN)}`, made a zoo entry by `make_entry`; "
        f"{len(rec.classes)} classes, untrained weights (speed only)"
    )
    return rec, described


def network_name(rec: Any) -> str:
    """The network's class and parameter count, e.g. ``CompactVGG (1,174,439 parameters)``."""
    net = rec.classifier.net
    return f"{type(net).__name__} ({sum(p.numel() for p in net.parameters()):,} parameters)"
