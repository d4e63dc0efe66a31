"""The SDK promise: a Python client generated from the live OpenAPI document drives the API.

``openapi-python-client`` (in ``.venv-openapi``: its pins clash with the app's, see the
Makefile) generates a package from ``/api/openapi.json`` into a temporary directory; the
test imports it and runs a scenario through it: sign in, create an account, list with a
filter, set an override, read the effective config, and read the ``code`` of a 400 and a
404. Generation must be clean (no warning: every schema and response parsed), operation ids
must read as method names (``accounts_list``), and every error status must be declared with
the SPEC §2 body. It guards every later endpoint too.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.config import Settings
from tests.fixtures.live_server import LiveServer, start_live_server

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / ".venv-openapi" / "bin" / "openapi-python-client"
ADMIN = ("sdk-admin@example.com", "correct horse battery staple")
PACKAGE = "cudly_sdk"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_email": ADMIN[0], "admin_password": ADMIN[1]}


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    running = start_live_server(settings)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def document(server: LiveServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/api/openapi.json", timeout=30) as answer:
        loaded: dict[str, Any] = json.load(answer)
    return loaded


@pytest.fixture
def sdk(document: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """The generated package, imported."""
    assert GENERATOR.exists(), "run `make install` (it creates .venv-openapi)"
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    config = tmp_path / "config.json"
    # post_hooks: none, so the output does not depend on a formatter being on PATH.
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    run = subprocess.run(
        [
            str(GENERATOR),
            *("generate", "--path", str(spec), "--config", str(config), "--meta", "none"),
            *("--output-path", str(tmp_path / PACKAGE)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    assert "unable to" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_operation_ids_read_as_method_names(document: dict[str, Any]) -> None:
    operations = [op for ops in document["paths"].values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    for operation in operations:
        tag = operation["tags"][0]
        assert operation["operationId"].startswith(f"{tag}-"), operation["operationId"]
        name = operation["operationId"].removeprefix(f"{tag}-")
        # No generated suffix (``…_api_accounts_get``) and no repeated tag (``list_accounts``).
        assert "_api_" not in name, operation["operationId"]
        assert name not in {f"{verb}_{tag}" for verb in ("list", "get", "create", "update")}


def test_every_error_response_has_the_spec_error_body(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                assert schema is not None, f"{method} {path} {status} has no JSON body"
                ref = schema.get("$ref", "")
                referenced = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
                # ErrorBody itself, or a model that extends it (a 409 listing the blockers).
                assert {"error", "code"} <= set(referenced.get("required", [])), (
                    f"{method} {path} {status}: {ref}"
                )


def test_the_generated_client_drives_the_api(sdk: Any, server: LiveServer) -> None:
    api = importlib.import_module(f"{PACKAGE}.api")
    models = importlib.import_module(f"{PACKAGE}.models")
    auth = importlib.import_module(f"{PACKAGE}.api.auth.auth_login")
    accounts_create = importlib.import_module(f"{PACKAGE}.api.accounts.accounts_create")
    accounts_list = importlib.import_module(f"{PACKAGE}.api.accounts.accounts_list")
    accounts_get = importlib.import_module(f"{PACKAGE}.api.accounts.accounts_get")
    replace_override = importlib.import_module(
        f"{PACKAGE}.api.config.config_replace_service_override"
    )
    effective_config = importlib.import_module(f"{PACKAGE}.api.config.config_get_effective_config")
    assert api is not None

    anonymous = sdk.Client(base_url=server.url)
    login = auth.sync_detailed(
        client=anonymous, body=models.LoginIn(email=ADMIN[0], password=ADMIN[1])
    )
    assert login.status_code == 200, login.content
    client = sdk.AuthenticatedClient(base_url=server.url, token=login.parsed.token)

    created = accounts_create.sync_detailed(
        client=client,
        body=models.AccountCreate(
            name="sdk", provider=models.Provider.AWS, external_id="123456789012"
        ),
    )
    assert created.status_code == 201, created.content
    account = created.parsed
    assert isinstance(account, models.AccountRead)

    listed = accounts_list.sync(client=client, provider=models.Provider.AWS)
    assert [a.id for a in listed.accounts] == [account.id]
    assert accounts_list.sync(client=client, provider=models.Provider.AZURE).accounts == []

    override = replace_override.sync_detailed(
        account.id,
        models.Provider.AWS,
        "ec2",
        client=client,
        body=models.ServiceOverrideReplace(enabled=False),
    )
    assert override.status_code == 200, override.content

    effective = effective_config.sync(account.id, client=client)
    ec2 = next(
        s for s in effective.services if (s.provider, s.service) == (models.Provider.AWS, "ec2")
    )
    assert ec2.enabled.value is False
    assert ec2.enabled.source == models.ConfigSource.OVERRIDE

    invalid = accounts_create.sync_detailed(
        client=client,
        body=models.AccountCreate(name="bad", provider=models.Provider.AWS, external_id="nope"),
    )
    assert invalid.status_code == 400
    assert isinstance(invalid.parsed, models.ErrorBody)
    assert invalid.parsed.code == "validation_error"

    missing = accounts_get.sync_detailed(uuid.uuid4(), client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorBody)
    assert missing.parsed.code == "account_not_found"
