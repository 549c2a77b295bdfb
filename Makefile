# handprior — the two setup commands are `make install` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: help install test test-fast lint bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install:  ## create .venv, install the CPU build of torch first, then handprior with its dev extras
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"

test:  ## run the test suite (under 10 minutes on 2 CPU cores)
	$(BIN)/python -m pytest -q

test-fast:  ## the tests without the end-to-end training ones
	$(BIN)/python -m pytest -q -m "not slow"

lint:  ## ruff check
	$(BIN)/ruff check handprior tests

bench:  ## speed benchmarks (not tests): throughput, latency, DTC cost
	$(BIN)/python -m experiments.speed.bench

clean:  ## remove logs and caches
	rm -rf logs .pytest_cache
