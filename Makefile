# CUDly — `make run` serves the API + SPA on embedded PostgreSQL; `make test` runs every suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint fmt bench install spa spa-deps spa-client spa-test checkov clean pytest

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

# npm packages (lock file) and Debian's Chromium for the browser tests (Playwright's own
# browser download is not used).
frontend/node_modules/.ci-stamp: frontend/package-lock.json
	cd frontend && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

spa-deps: frontend/node_modules/.ci-stamp
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || \
		{ apt-get update && apt-get install -y chromium; } || \
		{ sudo apt-get update && sudo apt-get install -y chromium; }

# Regenerate the SPA's typed client from the OpenAPI document the server builds (no server
# needed): frontend/openapi.json and frontend/src/api/schema.ts. Commit both.
spa-client: install
	$(BIN)/python frontend/scripts/dump_openapi.py frontend/openapi.json
	cd frontend && { [ -d node_modules ] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; } && npm run gen:client

# SPA: type check, Vitest unit tests, then Playwright against a real server on a real DB.
spa-test: install spa-deps
	cd frontend && npm run typecheck && npm test && npm run build && npm run e2e

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

# promtool (Debian's prometheus package) checks deploy/monitoring/ in tests/telemetry.
promtool:
	@command -v promtool >/dev/null || \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; } || \
		{ sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }

pytest: install checkov promtool
	$(BIN)/pytest -p no:cacheprovider

test: lint pytest spa-test

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache
