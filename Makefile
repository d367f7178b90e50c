# The two commands a new user runs:  make render PROMPT="a yellow triangle moving up"   and   make test
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROMPT ?= a red circle moving left
OUT ?= out.mp4
SEED ?= 0

.PHONY: setup render test weights bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

render: setup
	$(BIN)/cascade render "$(PROMPT)" -o $(OUT) --seed $(SEED) -v

test: setup
	$(BIN)/python -m pytest -q -ra tests

weights: setup  ## retrain both shipped cascades from configs/ (resumable; hours on a 2-core CPU)
	bash scripts/make_weights.sh
	bash scripts/make_latent_weights.sh

bench: setup  ## the CPU benchmarks (see bench/README.md; pass --device cuda on a GPU machine)
	$(BIN)/python bench/backbone.py --device cpu
	$(BIN)/python bench/train_throughput.py --device cpu
	$(BIN)/python bench/render_latency.py --device cpu
	$(BIN)/python bench/latent_compute.py --device cpu

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
