"""Lightning callbacks: each writes what it shows to TensorBoard and as a file in the run folder."""

from fer_lightning.callbacks.activations import ActivationGrids
from fer_lightning.callbacks.class_metrics import ClassMetrics
from fer_lightning.callbacks.confusion import ConfusionMatrix
from fer_lightning.callbacks.curves import LossCurves
from fer_lightning.callbacks.data_overview import DataOverview
from fer_lightning.callbacks.ema import EMA
from fer_lightning.callbacks.hparams import HParams
from fer_lightning.callbacks.misclassified import Misclassified
from fer_lightning.callbacks.model_summary import ReportSummary
from fer_lightning.callbacks.resume import ReseedEachEpoch, SaveOnInterrupt

__all__ = [
    "EMA",
    "ActivationGrids",
    "ClassMetrics",
    "ConfusionMatrix",
    "DataOverview",
    "HParams",
    "LossCurves",
    "Misclassified",
    "ReportSummary",
    "ReseedEachEpoch",
    "SaveOnInterrupt",
]
