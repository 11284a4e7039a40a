# Cardinal — developer entry points. `make test` is the one the README and CI run.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck unit demo sandbox bench clean schema mutate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e '.[dev]'
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

# cardinal_sim/proxmox/data/schema.json is cut from the official Proxmox VE API schema: api-viewer/apidata.js in
# https://github.com/proxmox/pve-docs (the file behind https://pve.proxmox.com/pve-docs/api-viewer/), the
# text from its first `[` to its last `]` saved as JSON. Point APIDATA at that file.
APIDATA ?= ../shared/proxmox/apidata.json
schema: $(STAMP)
	@test -f "$(APIDATA)" || { echo "make schema: $(APIDATA) not found; it is api-viewer/apidata.js from https://github.com/proxmox/pve-docs saved as JSON (from the first [ to the last ]); run make schema APIDATA=<that file>" >&2; exit 2; }
	$(BIN)/python scripts/gen_schema_subset.py "$(APIDATA)"

# Mutation testing, one module at a time against its own tests (docs/mutation.md); not part of `test`.
# `make mutate MODULES=codec` runs one module; ARGS=--check fails below a module's target score.
MUTATION_STAMP := $(VENV)/.mutation-installed
$(MUTATION_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e '.[dev,mutation]'
	touch $(MUTATION_STAMP)

mutate: $(MUTATION_STAMP)
	$(BIN)/python scripts/mutate.py $(MODULES) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .mutation
