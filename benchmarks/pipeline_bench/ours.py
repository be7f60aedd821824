"""The project's pipeline and networks, as training uses them."""

from __future__ import annotations

from typing import Any

from pipeline_bench.plan import BATCH, REPO


def aug_config(name: str = "colorjitter") -> dict[str, Any]:
    """The project's ``aug=NAME`` group (over ``aug/none``) as a plain dict."""
    from omegaconf import OmegaConf

    conf = REPO / "conf" / "aug"
    group = OmegaConf.load(conf / f"{name}.yaml")
    group.pop("defaults", None)
    merged = OmegaConf.merge(OmegaConf.load(conf / "none.yaml"), group)
    return OmegaConf.to_container(merged, resolve=True)  # type: ignore[return-value]


def our_datamodule(
    csv: str, cache_dir: str, batch: int = BATCH, aug: str = "colorjitter", channels: int = 3
) -> Any:
    """Ours as training uses it: cached uint8 faces, ColorJitter on the batch, channels-last."""
    from fer_lightning.data.augment import build_augmentation
    from fer_lightning.data.datamodule import FERDataModule

    return FERDataModule(
        path=csv,
        batch_size=batch,
        cache_dir=cache_dir,
        channels=channels,
        channels_last=True,
        augmentation=build_augmentation(aug_config(aug)),
    )


def network(name: str, channels_last: bool) -> Any:
    """emo1/emo5 (or fer_cpu's compact_vgg), seeded so both sides start from the same weights."""
    import torch

    from fer_lightning.models.compact_vgg import CompactVGG
    from fer_lightning.models.seed_cnns import Emo5CNN, EmoCNN

    torch.manual_seed(0)
    net = {"emo1": EmoCNN, "emo5": Emo5CNN, "compact_vgg": CompactVGG}[name]()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net.train()
