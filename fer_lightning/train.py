"""`python -m fer_lightning [overrides]` (`fer-train`): train, then test the best checkpoint."""

from __future__ import annotations

from omegaconf import DictConfig

from fer_lightning.cli import command
from fer_lightning.training.fit import train


def task(cfg: DictConfig) -> float | None:
    """The metric a sweeper optimizes (``optimized_metric``); the run folder holds the rest."""
    return train(cfg).get(cfg.get("optimized_metric"))


main = command("train")(task)

if __name__ == "__main__":
    main()
