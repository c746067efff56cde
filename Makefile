# Two commands set up everything on a fresh machine:
#   make demo   - venv, install, offline model pack, sample knowledge base, a cross-lingual search
#   make test   - venv, install, offline model pack, the whole test suite
# Variables: PYTHON (interpreter for the venv), VENV (its folder), TORCH_SPEC (the torch to install
# first; a CPU build avoids a multi-GB CUDA download), PIP_TORCH_ARGS (e.g. --index-url
# https://download.pytorch.org/whl/cpu on machines whose default index serves CUDA builds).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PIP_TORCH_ARGS ?=
BIN := $(VENV)/bin
BABELRAG := $(BIN)/babelrag
DEMO_KB ?= sample
PYTEST_ARGS ?=

.PHONY: setup models demo test unit lint format clean-venv bench eval-results

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

setup: $(BIN)/.installed

models: setup
	$(BABELRAG) models install

demo: models
	$(BABELRAG) ingest examples/sample_kb --kb $(DEMO_KB)
	$(BABELRAG) search "绿茶应该用多少度的水冲泡？" --kb $(DEMO_KB) -k 3
	$(BABELRAG) search "绿茶应该用多少度的水冲泡？" --kb $(DEMO_KB) -k 3 --translate
	$(BABELRAG) search "Wie hoch sind die Türme des Kölner Doms?" --kb $(DEMO_KB) -k 3
	@echo "Serve it over HTTP: $(BABELRAG) serve --kb $(DEMO_KB)   (web page at http://127.0.0.1:8000/, API docs at /docs)"

test: models
	BABELRAG_TEST_REQUIRE_MODELS=1 $(BIN)/pytest $(PYTEST_ARGS)

unit: setup
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-venv:
	rm -rf $(VENV)

bench: models
	$(BIN)/python bench/run.py

eval-results: models
	$(BIN)/python bench/eval_results.py
