"""FERDataModule: uint8 faces in memory, whole-batch gathers, preprocessing on the device."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from fer_lightning.data.augment import Augmentation, build_augmentation
from fer_lightning.data.batches import EpochSampler, FaceTensorDataset, ResumableLoader, keep_batch
from fer_lightning.data.checks import check_labelled, check_numbers
from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import LABEL_SETS
from fer_lightning.data.relabel import relabel_ferplus, scheme_targets
from fer_lightning.data.sources import load_faces
from fer_lightning.data.split import SPLITS, describe_empty, split_indices
from fer_lightning.errors import DataError

log = logging.getLogger(__name__)


class FERDataModule(L.LightningDataModule):
    """FER2013 (or any source of the same form) for Lightning.

    Batches leave the loader as uint8 [B, 48, 48]; ``on_after_batch_transfer`` turns them into
    normalized float [B, C, 48, 48] on the training device and augments training batches there.
    """

    def __init__(
        self,
        path: str | None = None,
        source: str = "csv",
        split: str = "usage",
        train_ratio: float = 0.8,
        val_ratio: float = 0.1,
        val_usage: str | None = "PublicTest",
        test_usage: str | None = "PrivateTest",
        split_seed: int = 0,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        channels: int = 3,
        mean: float = 0.5,
        std: float = 0.5,
        on_bad_rows: str = "error",
        cache_dir: str | None = None,
        synthetic_size: int = 10_000,
        synthetic_seed: int = 0,
        balanced_sampler: bool = False,
        shuffle_seed: int = 0,
        on_device: bool = False,
        channels_last: bool = False,
        labels: str = "fer2013",
        ferplus_path: str | None = None,
        ferplus_scheme: str = "majority",
        ferplus_clean_votes: bool = True,
        augmentation: Augmentation | None = None,
    ) -> None:
        super().__init__()
        check_numbers(batch_size, eval_batch_size, train_ratio, val_ratio)
        if labels not in LABEL_SETS:
            raise DataError(f"data.labels={labels!r} is unknown: use {' or '.join(LABEL_SETS)}")
        self.save_hyperparameters(ignore=["augmentation"], logger=False)
        self.augmentation = augmentation or Augmentation()
        self.faces: FaceSet | None = None
        self._read_faces: FaceSet | None = None  # as the source gave them, before any split
        self.indices: dict[str, np.ndarray] = {}
        self.datasets: dict[str, FaceTensorDataset] = {}
        # Splits the FER+ votes left empty, and why (named instead of the split options).
        self.emptied_by_votes: dict[str, str] = {}
        # Which split the test loop reads: evaluation of a checkpoint may ask for "val".
        self.test_split = "test"

    # -- loading -----------------------------------------------------------------------------
    def _read(self) -> FaceSet:
        """The source's faces, read once."""
        if self._read_faces is None:
            hp = self.hparams
            self._read_faces = load_faces(
                hp.source,
                hp.path,
                on_bad_rows=hp.on_bad_rows,
                cache_dir=hp.cache_dir,
                synthetic_size=hp.synthetic_size,
                synthetic_seed=hp.synthetic_seed,
            )
        return self._read_faces

    def load(self) -> FaceSet:
        """Load the source once; later calls reuse it."""
        if self.faces is None:
            hp = self.hparams
            self.faces = self._read()
            if hp.labels == "fer2013" and self.faces.votes is not None:
                raise DataError(
                    f"{self.faces.source}: FER+'s image folders hold FER+ votes, not FER2013 "
                    "labels: train with data.labels=ferplus (data=ferplus_folder sets it)"
                )
            hp_split = {k: hp[k] for k in ("train_ratio", "val_ratio", "val_usage", "test_usage")}
            self.indices = split_indices(self.faces, hp.split, seed=hp.split_seed, **hp_split)
            if hp.labels == "ferplus":
                self.faces, self.indices, self.emptied_by_votes = relabel_ferplus(
                    self.faces,
                    self.indices,
                    hp.ferplus_path,
                    hp.ferplus_scheme,
                    hp.ferplus_clean_votes,
                )
            sizes = ", ".join(f"{name} {len(idx):,}" for name, idx in self.indices.items())
            log.info(
                "Loaded %s faces from %s (%s)", f"{len(self.faces):,}", self.faces.source, sizes
            )
            for name, index in self.indices.items():
                counts = " ".join(f"{k} {v}" for k, v in self.faces.class_counts(index).items())
                log.info("  %-5s %s", name, counts)
        return self.faces

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate", "test"):
            check_labelled(self._read(), self.hparams.labels)
        faces = self.load()
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": (self.test_split,)}.get(
            stage or "", SPLITS if stage is None else ()
        )
        for name in needed:
            self.dataset(name)
        if stage == "fit" and not (faces.labels[self.indices["train"]] >= 0).all():
            raise DataError(
                f"{faces.source}: has no emotion labels, so it cannot train: give a "
                "labelled CSV (columns emotion, pixels, Usage)"
            )

    def dataset(self, name: str) -> FaceTensorDataset:
        """The split ``name`` as a dataset; a needed split that is empty is a user error.

        With ``on_device``, the split moves to the trainer's device once a trainer is attached:
        ``train`` builds the splits before the trainer exists (bad data ends the run before
        anything starts), so the first build is on the host and Lightning's ``setup`` moves it.
        """
        if name not in self.datasets:
            faces, index = self.load(), self.indices[name]
            if len(index) == 0 and name in self.emptied_by_votes:
                raise DataError(self.emptied_by_votes[name])
            if len(index) == 0:
                hp = self.hparams
                raise DataError(
                    describe_empty(faces, name, hp.split, hp.val_usage, hp.test_usage, hp.source)
                )
            targets = None
            if faces.targets is not None and name == "train":
                targets = torch.from_numpy(faces.targets[index])
            self.datasets[name] = FaceTensorDataset(
                torch.from_numpy(faces.images[index]),
                torch.from_numpy(faces.labels[index]),
                targets,
            )
        dataset = self.datasets[name]
        device = self.data_device
        if device is not None and dataset.images.device != device:
            # The whole uint8 split lives on the training device (83 MB for all of FER2013):
            # batches are gathered there, with no copy from the host per step.
            dataset = dataset.to(device)
            self.datasets[name] = dataset
        return dataset

    @property
    def data_device(self) -> torch.device | None:
        """Where ``on_device`` keeps the splits: the trainer's device; None without either."""
        if not self.hparams.on_device or self.trainer is None:
            return None
        return self.trainer.strategy.root_device

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes of the labels in use, in label order (known before any data is read)."""
        return LABEL_SETS[self.hparams.labels]

    # -- loaders -----------------------------------------------------------------------------
    def class_counts(self, name: str = "train") -> list[int]:
        """Faces per class in a split, in label order."""
        return list(self.load().class_counts(self.indices[name]).values())

    def split_counts(self) -> dict[str, dict[str, int]]:
        """Faces per class name in each split that has faces."""
        faces = self.load()
        return {n: faces.class_counts(i) for n, i in self.indices.items() if len(i)}

    def _check_options(self) -> None:
        hp = self.hparams
        if hp.on_device and hp.num_workers > 0:
            raise DataError(
                "data.on_device=true gathers batches on the device: set data.num_workers=0"
            )

    def _loader(self, name: str, sampler: Sampler | None = None) -> DataLoader:
        self._check_options()
        hp = self.hparams
        batch_size = hp.batch_size if name == "train" else (hp.eval_batch_size or hp.batch_size)
        # Training resumes mid-epoch where it stopped: the loader's place is in the checkpoint.
        resumable = {"batches_done": self._batches_done} if name == "train" else {}
        return (ResumableLoader if resumable else DataLoader)(
            self.dataset(name),
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=keep_batch,
            num_workers=hp.num_workers,
            pin_memory=hp.pin_memory and not hp.on_device,
            persistent_workers=hp.num_workers > 0,
            # Its own generator: creating an iterator then draws nothing from the global RNG,
            # which a resumed run does at another moment than an uninterrupted one.
            generator=torch.Generator().manual_seed(hp.shuffle_seed),
            **resumable,
        )

    def _batches_done(self) -> int:
        """The batches of this epoch that Lightning has trained on (its own count)."""
        if self.trainer is None:
            return 0
        return self.trainer.fit_loop.epoch_loop.batch_progress.current.processed

    def train_dataloader(self) -> DataLoader:
        labels = self.dataset("train").labels
        weights = None
        if self.hparams.balanced_sampler:
            # Each class drawn equally often on average: weight every face by 1 / its class size.
            per_class = torch.bincount(labels.cpu(), minlength=len(self.class_counts())).double()
            weights = 1.0 / per_class[labels.cpu()]
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        sampler = EpochSampler(len(labels), self.hparams.shuffle_seed, epoch, weights)
        return self._loader("train", sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_split)

    # -- on the device -----------------------------------------------------------------------
    def preprocess(
        self,
        images: Tensor,
        labels: Tensor,
        train: bool,
        augmentation: Augmentation | None = None,
        targets: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """uint8 [B, H, W] -> normalized float [B, C, h, w] (eval ten-crop: [B, 10, C, h, w]).

        Returns (faces, labels, soft targets): training may augment, ten-crop (labels and
        ``targets`` repeated) and mix (soft targets); evaluation only crops as the training
        did. The faces are grey, so all of it runs on the one channel and the result is
        replicated to ``channels`` last: the same pixels as augmenting the replicated RGB face
        (ColorJitter's saturation changes no pixel of a grey face), at a third of the cost.
        ``augmentation`` replaces the run's own (``Augmentation()`` for whole faces,
        ``single_view()`` for pictures).
        """
        hp = self.hparams
        augmentation = augmentation or self.augmentation
        x = images.unsqueeze(1).float().div_(255.0)
        soft = None
        if train:
            x, labels, soft = augmentation.train(x, labels, targets)
        else:
            x = augmentation.eval(x)
        x = (x - hp.mean) / hp.std
        if hp.channels != 1:
            x = x.expand(*x.shape[:-3], hp.channels, *x.shape[-2:])
        if hp.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, labels, soft

    def on_after_batch_transfer(
        self, batch: tuple[Tensor, ...], dataloader_idx: int
    ) -> tuple[Tensor, ...]:
        images, labels, *targets = batch
        train = self.trainer is not None and self.trainer.training
        soft = None
        if train and targets:  # FER+: the scheme decides what the loss sees
            labels, soft = scheme_targets(self.hparams.ferplus_scheme, labels, targets[0])
        x, labels, soft = self.preprocess(images, labels, train, targets=soft)
        return (x, labels) if soft is None else (x, labels, soft)


def datamodule_from_config(
    data: DictConfig, aug: DictConfig | None, num_classes: int, tta: str | None = None
) -> FERDataModule:
    """The data module of ``data`` with the augmentation of ``aug`` (``tta``: the run's own).

    Through a partial: ``instantiate`` would turn the Augmentation dataclass into a config node.
    No data is read until a split is asked for.
    """
    augmentation = build_augmentation(aug, num_classes, tta=tta)
    return instantiate(data, _partial_=True)(augmentation=augmentation)
