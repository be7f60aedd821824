"""Batches gathered from tensors in one index operation, in an order that resumes exactly."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler


class FaceTensorDataset(Dataset):
    """uint8 images and labels as tensors; ``__getitems__`` gathers a batch in one index op.

    ``targets`` (FER+): a training target distribution per face, gathered as a third item.
    """

    def __init__(self, images: Tensor, labels: Tensor, targets: Tensor | None = None) -> None:
        self.images, self.labels, self.targets = images, labels, targets

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int | Tensor) -> tuple[Tensor, ...]:
        item = (self.images[index], self.labels[index])
        return item if self.targets is None else (*item, self.targets[index])

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, ...]:
        return self[torch.as_tensor(indices)]

    def to(self, device: torch.device) -> FaceTensorDataset:
        targets = None if self.targets is None else self.targets.to(device)
        return FaceTensorDataset(self.images.to(device), self.labels.to(device), targets)


class EpochSampler(Sampler[int]):
    """A random order (or a class-balanced draw) that depends on (seed, epoch) only.

    Lightning draws the first epoch's order of every fit before any epoch hook runs; with the
    global RNG that would make a resumed run shuffle differently from an uninterrupted one.
    Lightning calls ``set_epoch`` before each later epoch.
    """

    def __init__(self, size: int, seed: int, epoch: int = 0, weights: Tensor | None = None):
        self.size, self.seed, self.epoch, self.weights = size, seed, epoch, weights

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch)
        if self.weights is None:
            return iter(torch.randperm(self.size, generator=generator).tolist())
        draw = torch.multinomial(self.weights, self.size, replacement=True, generator=generator)
        return iter(draw.tolist())


def keep_batch(batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """collate_fn for datasets whose ``__getitems__`` already returns a whole batch."""
    return batch
