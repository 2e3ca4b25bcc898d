# Each target installs what it needs into .venv first, so a fresh clone needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: open the terminal UI on a demo workspace built from sample_data/
demo: $(STAMP)
	$(BIN)/mlcycle --workspace demo-workspace demo

## test: lint, then the whole test suite on both cores
test: lint
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider --durations=20

## lint: ruff, and the import contracts that keep core's lifecycle layers in order
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m tests.import_layers

## bench: the performance comparisons in bench/ (installs the tools compared against)
bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest.py --wide
	$(BIN)/python bench/prep.py
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/abtest.py

clean:
	rm -rf $(VENV) demo-workspace
