# CUDly — `make run` serves the API + SPA on embedded PostgreSQL; `make test` runs every suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint fmt bench install spa checkov clean pytest

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The SPA is built when frontend/ has one; the server shows a placeholder page otherwise.
spa:
	@if [ -f frontend/package.json ]; then \
		cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build; \
	else echo "no frontend/package.json: serving the placeholder page"; fi

# checkov pins versions that clash with the app's, so it lives in a venv of its own.
$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov

checkov: $(CHECKOV_VENV)/bin/checkov

run: install spa
	$(BIN)/cudly serve

lint: install
	$(BIN)/ruff check api tests bench migrations
	$(BIN)/ruff format --check api tests bench migrations
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix api tests bench migrations
	$(BIN)/ruff format api tests bench migrations

pytest: install checkov
	$(BIN)/pytest -p no:cacheprovider

test: lint pytest

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache
