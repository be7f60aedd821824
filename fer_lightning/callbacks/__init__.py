"""Lightning callbacks: each writes what it shows to TensorBoard and as a file in the run folder."""

from fer_lightning.callbacks.data_overview import DataOverview

__all__ = ["DataOverview"]
