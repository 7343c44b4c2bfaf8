# Two entry points (see README): `make run` and `make test`.
# The venv is built from the first Python >= 3.12 found: python3.13, python3.12,
# pyenv's versions (under $PYENV_ROOT, `pyenv root`, ~/.pyenv or /root/.pyenv), then python3.
SHELL := /bin/bash
VENV := .venv
PYENV_ROOTS := $(PYENV_ROOT) $(shell pyenv root 2>/dev/null) $(HOME)/.pyenv /root/.pyenv
PY_CANDIDATES := python3.13 python3.12 \
	$(foreach r,$(PYENV_ROOTS),$(wildcard $(r)/versions/3.1[2-9]*/bin/python)) python3
PYTHON ?= $(shell for p in $(PY_CANDIDATES); do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v "$$p"; break; }; \
	done)

.PHONY: setup run test bench lint clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found; install one (e.g. pyenv install 3.12) or pass PYTHON=/path/to/python3.12"; exit 1; }
	@echo "creating $(VENV) with $(PYTHON)"
	"$(PYTHON)" -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	@touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/aimarket run experiments/scenarios/baseline.toml --out runs/baseline --force

test: setup
	$(VENV)/bin/python -m pytest -q

bench: setup
	$(VENV)/bin/python -m optimizers.bench

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
