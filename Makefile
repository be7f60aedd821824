# Every target does its own set-up: a clean clone needs nothing but python3 (>= 3.10).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FER_CSV ?= ../shared/data/fer2013/fer2013_dev.csv.gz
ARGS   ?=

.PHONY: install demo test test-all train bench docs-figures tensorboard lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

demo: install  ## train on the built-in synthetic faces and print where the results are
	$(BIN)/python -m fer_lightning data=synthetic model=emo1 trainer=cpu trainer.max_epochs=4 $(ARGS)

test: install  ## the fast suite (CI)
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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -exec rm -rf {} +
