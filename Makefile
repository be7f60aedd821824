# Every target does its own set-up: a clean clone needs nothing but python3 (>= 3.10).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FER_CSV ?= ../shared/data/fer2013/fer2013_dev.csv.gz
ARGS   ?=

.PHONY: help install demo test-unit test test-all typecheck lint format docs train bench \
	docs-figures tensorboard clean
.DEFAULT_GOAL := help

help:  ## this list: each target and what it does
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z_-]+:[^#]*## / {printf "  %-13s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

install: $(STAMP)  ## the virtual environment .venv with the package and its dev tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

demo: install  ## train on the built-in synthetic faces and print where the results are
	$(BIN)/python -m fer_lightning data=synthetic model=emo1 trainer=cpu trainer.max_epochs=4 $(ARGS)

test-unit: install  ## the unit tests: no training, no child process (under a minute)
	$(BIN)/python -m pytest -m "not e2e and not slow" $(ARGS)

test: install  ## unit and end-to-end tests, what CI runs (parallel: pytest -n auto)
	$(BIN)/python -m pytest $(ARGS)

test-all: install  ## everything, slow tests included
	$(BIN)/python -m pytest -m "slow or not slow" $(ARGS)

train: install  ## train on the real CSV (FER_CSV=path), development split
	$(BIN)/python -m fer_lightning data=fer2013_dev data.path=$(FER_CSV) $(ARGS)

bench: install  ## the report's pipeline against ours, side by side (benchmarks/results.md)
	$(BIN)/python benchmarks/bench.py $(ARGS)

RUNS ?= outputs/train/runs
RUN  ?=
DASHBOARD ?=
docs-figures: install  ## the README's pictures (docs/*.png) from real runs: RUNS=folder [RUN=the run shown] [DASHBOARD=the run whose TensorBoard is shown]
	$(BIN)/python docs/figures.py $(RUNS) $(if $(RUN),--run $(RUN)) $(if $(DASHBOARD),--dashboard $(DASHBOARD))

tensorboard: install  ## every run under outputs/; start at http://localhost:6006/#custom_scalars
	@echo "Curves first: http://localhost:6006/#custom_scalars"
	$(BIN)/tensorboard --logdir outputs --bind_all

lint: install  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install  ## mypy over fer_lightning/ (its settings: pyproject.toml, [tool.mypy])
	$(BIN)/mypy

format: install  ## ruff's fixes and formatting, applied
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: install  ## the documentation site into site/, strictly (a broken link fails)
	$(BIN)/mkdocs build --strict

clean:  ## remove run outputs, caches and build files (not .venv)
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .mypy_cache site build dist *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -exec rm -rf {} +
