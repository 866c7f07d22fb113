# The two commands the README starts with. Both set up their own environment first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_WS ?= demo-data

.PHONY: demo test setup lint typecheck bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/hubbub --workspace $(DEMO_WS) init
	$(BIN)/hubbub --workspace $(DEMO_WS) import samples --dataset demo
	$(BIN)/hubbub --workspace $(DEMO_WS) enrich
	$(BIN)/hubbub --workspace $(DEMO_WS) stats --by platform --by kind --by lang
	$(BIN)/hubbub --workspace $(DEMO_WS) search 'lang:en AND (election* OR vote*)' --sort engagement --limit 5
	$(BIN)/hubbub --workspace $(DEMO_WS) trends 'platform:twitter AND date:2016-10-01' --interval hour --by lang --top 3

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(DEMO_WS) .pytest_cache .ruff_cache .mypy_cache
