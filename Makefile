# Every target with a `## ` comment shows up in `make help`.
PYTHON ?= python
PYTEST ?= $(PYTHON) -m pytest

.DEFAULT_GOAL := help

.PHONY: help install test test-full lint format bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

install: ## install vsr and everything it needs into the active Python environment
	$(PYTHON) -m pip install torch==2.14.1 torchvision==0.29.1
	$(PYTHON) -m pip install -e ".[dev,sweep,slurm]"

# Tests run one torch thread each (tests/conftest.py), so one worker per core.
TEST_WORKERS ?= 2

test: ## run the fast test suite (no GPU, no network), TEST_WORKERS processes in parallel
	$(PYTEST) -q -n $(TEST_WORKERS)

test-full: ## run every test, slow ones included
	$(PYTEST) -q -n $(TEST_WORKERS) -m "not gpu or gpu"

lint: ## ruff lint and format check
	$(PYTHON) -m ruff check src tests scripts
	$(PYTHON) -m ruff format --check src tests scripts

format: ## ruff autofix and format
	$(PYTHON) -m ruff check --fix src tests scripts
	$(PYTHON) -m ruff format src tests scripts

bench: ## measure the network (c64n7, 1 and 2 threads; 30-frame checkpointing) and the data back-ends; JSON in bench/
	mkdir -p bench
	vsr-bench model --threads 1 2 --out bench/model.json --plot bench/model.png
	vsr-bench model --frames 30 --passes train --impls auto --checkpointing off on --out bench/model_checkpointing.json
	vsr-bench data --out bench/data.json

clean: ## remove caches and build outputs
	rm -rf build dist .pytest_cache .ruff_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
