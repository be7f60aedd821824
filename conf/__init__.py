"""Hydra configs, shipped inside the package so an installed wheel finds them."""
