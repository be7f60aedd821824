"""Data: sources (CSV, synthetic) -> one in-memory FaceSet -> splits -> FERDataModule."""

from fer_lightning.data.datamodule import FERDataModule
from fer_lightning.data.faces import FaceSet
from fer_lightning.data.labels import EMOTIONS, USAGES
from fer_lightning.data.sources import load_faces

__all__ = ["EMOTIONS", "USAGES", "FERDataModule", "FaceSet", "load_faces"]
