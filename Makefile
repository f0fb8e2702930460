# Two set-up commands on a fresh machine: `make up` (a cluster) and `make test` (the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: up test lint venv bench

$(BIN)/kajitori: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/kajitori

venv: $(BIN)/kajitori

# Until the real node agent lands, the cluster's nodes are simulated (docs/simulated-nodes.md).
UP_FLAGS ?= --sim-nodes 3

up: venv
	$(BIN)/kajitori up $(UP_FLAGS)

test: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest -q

bench: venv
	for b in bench/bench_*.py; do $(BIN)/python $$b; done
