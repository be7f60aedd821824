"""Lightning callbacks: each writes what it shows to TensorBoard and as a file in the run folder."""

from fer_lightning.callbacks.curves import LossCurves
from fer_lightning.callbacks.data_overview import DataOverview
from fer_lightning.callbacks.hparams import HParams

__all__ = ["DataOverview", "HParams", "LossCurves"]
