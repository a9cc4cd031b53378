# tearline's two commands: `make demo` (the main job) and `make test`.
# Each does its whole set-up on a fresh Debian machine: Chromium from Debian
# (as root), Python 3.12 via pyenv or the system, a virtualenv in .venv with
# tearline and its lab and test extras.

SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo test lint types bench stress clean

setup: $(STAMP) /usr/bin/chromium

/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "Chromium is missing: run 'sudo apt-get install -y chromium' once, then again 'make $(MAKECMDGOALS)'"; exit 1; \
	fi

$(STAMP): pyproject.toml
	@py=$$(pyenv which python 2>/dev/null || command -v python3.12 || command -v python3.13 || command -v python3); \
	  $$py -c 'import sys; sys.exit(sys.version_info < (3, 12))' || { echo "tearline needs Python >= 3.12 (found $$($$py --version))"; exit 1; }; \
	  $$py -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[lab,test]'
	@touch $(STAMP)

demo: setup
	$(BIN)/tearline demo

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench

# full-size stress suite (figures in docs/reliability.md); tests/test_stress_small.py is the CI size
stress: setup
	$(BIN)/python -m tests.stress.run $(STRESS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
