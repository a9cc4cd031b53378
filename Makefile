# tearline's two commands: `make demo` (the main job) and `make test`.
# Each does its whole set-up on a fresh Debian machine: Chromium from Debian
# (as root), Python 3.12 via pyenv or the system, a virtualenv in .venv with
# tearline and its lab, app, parquet and test extras; `make test` also builds the real
# CopilotKit app (Node.js from Debian, npm ci, next build; cached).

SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup app demo test lint types bench autobahn stress clean

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
	$(BIN)/pip install -q -e '.[lab,test,app,parquet]'
	@touch $(STAMP)

/usr/bin/npm:
	@if [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null \
	    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; \
	else \
	  echo "Node.js/npm are missing: run 'sudo apt-get install -y nodejs npm' once, then again 'make $(MAKECMDGOALS)'"; exit 1; \
	fi

# The real CopilotKit app (tearline/lab/copilotkit/web): npm ci + next build into a cache keyed by the
# lock file (~/.cache/tearline/copilotkit), done again only when its sources change.
app: setup /usr/bin/npm
	$(BIN)/python -m tearline.lab.copilotkit.build

demo: setup
	$(BIN)/tearline demo

test: setup app
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -p no:cacheprovider tests/test_layers.py   # import-linter: the layers hold

# mypy reads packages from their folders: check the package as it installs (tools/stage_package.py)
types: setup
	@d=$$(mktemp -d) && $(BIN)/python tools/stage_package.py $$d && cd $$d && \
	  $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p tearline; s=$$?; rm -rf $$d; exit $$s

bench: setup
	$(BIN)/python -m bench

# The Autobahn|Testsuite fuzzing client (all but performance and compression), directly and
# through tearline; fails if any case ends worse through tearline. Needs python2.7 (pyenv).
# Three runs a side: the "message, then violation" cases race even directly (docs/relay.md), so
# each case is judged by its worst run on each side.
autobahn: setup
	VENV=$(VENV) tools/autobahn/run.sh --fast --repeat 3 -s addons/ws_trace.py -s addons/faults.py

# full-size stress suite (figures in docs/reliability.md); tests/test_stress_small.py is the CI size
stress: setup
	$(BIN)/python -m tests.stress.run $(STRESS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
