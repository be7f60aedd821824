"""The seed report's pipeline, written out from its description (not imported from anywhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline_bench.plan import BATCH


def report_load(csv: Path) -> tuple[np.ndarray, np.ndarray]:
    """The report's load: pandas, then every row split and converted to float32 on its own."""
    import pandas as pd

    df = pd.read_csv(csv)
    img_array = df.pixels.apply(lambda x: np.array(x.split(" ")).reshape(48, 48).astype("float32"))
    img_array = np.stack(img_array, axis=0)
    label_array = df.emotion.values
    return img_array, label_array


def report_pil_images(img_array: np.ndarray) -> list[Any]:
    """As written: ``fromarray`` of float32 gives mode 'F'; ``convert('RGB')`` clips to 0..255
    and truncates, which on FER2013's integer pixels is the grey value in all three channels."""
    from PIL import Image

    return [Image.fromarray(image).convert("RGB") for image in img_array]


def report_loader(pil_images: list[Any], labels: np.ndarray, jitter: bool = True) -> Any:
    """The report's per-image torchvision transforms in a DataLoader (batch 1024, no workers).

    ``jitter=False`` drops the ColorJitter: a diagnostic, to see the pipeline's own cost.
    """
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    class CustomDataset(Dataset):
        def __init__(self, images: list[Any], labels: np.ndarray, transform: Any) -> None:
            self.images, self.labels, self.transform = images, labels, transform

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, idx: int) -> tuple[Any, Any]:
            return self.transform(self.images[idx]), self.labels[idx]

    tf = transforms.Compose(
        [
            transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.5], std=[0.5]),
        ][0 if jitter else 1 :]
    )
    dataset = CustomDataset(pil_images, labels, transform=tf)
    return DataLoader(dataset, batch_size=BATCH, shuffle=True)
