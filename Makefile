# CUDly — `make run` serves the API + SPA on embedded PostgreSQL; `make test` runs every suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
OPENAPI_VENV := .venv-openapi
STAMP := $(VENV)/.installed-stamp
LOCK := requirements-lock.txt

.PHONY: run test lint lock fmt bench install spa spa-deps spa-client spa-test checkov clean pytest

# uv installs what pip would, from the same PyPI, about ten times faster (the lock's ~160
# packages: 9 s against pip's 2 min 16 s on a clean machine); pinned, so every CI run uses
# the same resolver.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_INSTALL := $(UV) pip install --quiet

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

# The exact versions of requirements-lock.txt first; then the project itself, which also
# brings in anything pyproject.toml names that the lock does not have yet (`make lock`).
$(STAMP): pyproject.toml $(LOCK) | $(UV)
	$(UV_INSTALL) --python $(BIN)/python -r $(LOCK)
	$(UV_INSTALL) --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) $(OPENAPI_VENV)/bin/openapi-python-client

# Regenerate the lock from pyproject.toml (runtime + dev), keeping the pinned versions that
# still fit: run it after changing a dependency, and commit requirements-lock.txt.
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --quiet -o $(LOCK)

# openapi-python-client (the SDK test, tests/structure/test_generated_sdk.py) pins a typer
# older than the app's, so it lives in a venv of its own, at a fixed version.
$(OPENAPI_VENV)/bin/openapi-python-client: | $(UV)
	$(UV) venv --quiet --python $(BIN)/python $(OPENAPI_VENV)
	$(UV_INSTALL) --python $(OPENAPI_VENV)/bin/python 'openapi-python-client==0.29.1'

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

# SPA: Vitest unit tests, the build (type check + bundle), then Playwright against a real server on a real DB.
spa-test: install spa-deps
	cd frontend && npm test && npm run build && npm run e2e

# checkov pins versions that clash with the app's, so it lives in a venv of its own.
$(CHECKOV_VENV)/bin/checkov: | $(UV)
	$(UV) venv --quiet --python $(BIN)/python $(CHECKOV_VENV)
	$(UV_INSTALL) --python $(CHECKOV_VENV)/bin/python checkov

checkov: $(CHECKOV_VENV)/bin/checkov

run: install spa
	$(BIN)/cudly serve

lint: install
	$(BIN)/ruff check api tests bench migrations
	$(BIN)/ruff format --check api tests bench migrations
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

fmt: install
	$(BIN)/ruff check --fix api tests bench migrations
	$(BIN)/ruff format api tests bench migrations

# promtool (Debian's prometheus package) checks deploy/monitoring/ in tests/telemetry.
promtool:
	@command -v promtool >/dev/null || \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; } || \
		{ sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }

# pytest-xdist: one worker per core (at most 4), each with its own embedded PostgreSQL,
# simulator and moto server (free ports, temporary directories); `PYTEST_WORKERS=0` runs it in
# one process. The 40 slowest tests are listed at the end (where the suite's time goes).
PYTEST_WORKERS ?= auto
pytest: install checkov promtool
	$(BIN)/pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --maxprocesses 4 --durations=40

test: lint pytest spa-test

bench: install
	$(BIN)/python -m bench

# The long variants of make test's bounded tests (docs/reliability.md, "What runs where"):
# 200 SIGKILL trials of a real-purchase worker (make test: 10), a 200-login burst (60) and the
# collection fault mix over 1,000 accounts (50).
soak: install
	CUDLY_CRASH_TRIALS=200 $(BIN)/pytest -p no:cacheprovider --timeout=0 -q tests/purchases/test_crash_safety.py
	CUDLY_LOGIN_BURST=200 $(BIN)/pytest -p no:cacheprovider --timeout=0 -q tests/security/test_login_burst.py
	CUDLY_HARDENING_ACCOUNTS=1000 timeout 3600 $(BIN)/pytest -p no:cacheprovider --timeout=0 -q -s tests/hardening/test_collection_faults.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(OPENAPI_VENV) .mypy_cache .ruff_cache
