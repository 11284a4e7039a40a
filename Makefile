# Cardinal — developer entry points. `make test` is the one the README and CI run.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck unit demo sandbox bench clean schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check bot handlers cardinal_sim tests bench scripts
	$(BIN)/ruff format --check bot handlers cardinal_sim tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy bot handlers cardinal_sim scripts
	$(BIN)/python scripts/gen_config_docs.py --check

unit: $(STAMP)
	$(BIN)/pytest --cov=bot --cov=handlers --cov=cardinal_sim --cov-report=term:skip-covered

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/cardinal demo

sandbox: $(STAMP)
	$(BIN)/cardinal sandbox

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

schema: $(STAMP)
	$(BIN)/python scripts/gen_schema_subset.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
