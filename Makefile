# One entry point for people and CI: `make run` serves the chat, `make test` checks it.
# Both set up what is missing first (venvs, npm packages, Chromium for the browser tests).

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
BIN := $(VENV)/bin
PORT ?= 3001

.PHONY: run seed-backend seed-stage test lint typecheck unit integration e2e template-check bench build dist deps clean

deps: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements-dev.txt layers/chatroom/requirements.txt pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests; installed when missing and we may (root).
.deps/chromium:
	@mkdir -p .deps
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "The browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }
	@touch $@

run: deps
	$(BIN)/wslocal start --template template.yaml --static frontend/ --port $(PORT)

# The seed article's design (examples/seed_chat): its web server, then the API in front of it.
seed-backend: deps
	$(BIN)/python examples/seed_chat/backend.py --management-endpoint http://127.0.0.1:$(PORT)/dev

seed-stage: deps
	$(BIN)/wslocal start --template examples/seed_chat/template.yaml --port $(PORT)

test: deps $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed .deps/chromium lint typecheck
	$(BIN)/pytest

lint: deps
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: deps
	$(BIN)/mypy wslocal layers/chatroom/chatroom

unit: deps
	$(BIN)/pytest tests/unit tests/functional

template-check: deps $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/pytest tests/unit/test_template_yaml.py

# Issue 8's numbers: client CPU per post, the fan-out table (same run as the floor; about
# 8 minutes), and the production cost model built from the measured per-post CPU.
bench: deps
	$(BIN)/python bench/post_cost.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/cost_model.py

# sam build checks each function's Runtime against a pythonX.Y on PATH; the one the
# template declares is found as the local stage finds it (PATH, pyenv, uv).
build: deps $(SAM_VENV)/.installed
	@path="$$($(BIN)/python scripts/sam_build_path.py template.yaml)" && \
	  PATH="$$path" SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build

# A wheel of the local stage, for `pipx install dist/wslocal-*.whl` or
# `uv tool install dist/wslocal-*.whl` (moto's server comes with the [moto] extra).
dist: deps
	rm -rf dist
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) node_modules .deps .aws-sam .pytest_cache .mypy_cache .ruff_cache dist build
