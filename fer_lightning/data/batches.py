"""Batches gathered from tensors in one index operation, in an order that resumes exactly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler


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
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_at(self, epoch: int, done: int) -> None:
        """The next order starts after its first ``done`` faces, if it is ``epoch``'s."""
        self._resume = (epoch, done)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch)
        if self.weights is None:
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.multinomial(self.weights, self.size, True, generator=generator)
        epoch, done = self._resume or (self.epoch, 0)
        self._resume = None
        # A checkpoint from the end of an epoch resumes into the next one, which starts whole.
        return iter(order[done if epoch == self.epoch else 0 :].tolist())


class ResumableLoader(DataLoader):
    """The training loader, resumable in the middle of an epoch.

    Lightning keeps a loader's ``state_dict`` in each checkpoint and gives it back on resume;
    without one, a run stopped mid-epoch (SIGTERM, Ctrl-C, a step checkpoint) trained its
    epoch's first batches a second time and never saw its last ones. The state is the epoch and
    the faces Lightning counts as trained (``batches_done``: the loader itself has handed out one
    more batch, which Lightning prefetched). Under several processes Lightning wraps the sampler
    in its own, and a mid-epoch resume starts the epoch again, as without this class.
    """

    def __init__(self, *args: Any, batches_done: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches_done = batches_done

    def state_dict(self) -> dict[str, int]:
        if not isinstance(self.sampler, EpochSampler) or self.batch_size is None:
            return {}
        return {"epoch": self.sampler.epoch, "faces_done": self.batches_done() * self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if isinstance(self.sampler, EpochSampler) and state:
            self.sampler.resume_at(state["epoch"], state["faces_done"])


def keep_batch(batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """collate_fn for datasets whose ``__getitems__`` already returns a whole batch."""
    return batch
