"""Trained models shipped with the package: ``SHIPPED`` names them, ``card(name)`` describes one."""

from fer_lightning.zoo.registry import SHIPPED, card

__all__ = ["SHIPPED", "card"]
