"""docker-compose.yml against the Compose Specification, and its variables against Settings.

Docker is not needed: the file is validated statically with the official JSON schema,
vendored as compose-spec.json (compose-spec/compose-spec, schema/compose-spec.json,
Apache-2.0).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from ._common import ROOT, is_known_variable, setting_names

COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA_FILE = ROOT / "tests" / "deploy" / "compose-spec.json"

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def _env_file_names(service: dict[str, Any]) -> set[str]:
    entries = service.get("env_file") or []
    entries = [entries] if isinstance(entries, str | dict) else entries
    names: set[str] = set()
    for entry in entries:
        path = ROOT / (entry["path"] if isinstance(entry, dict) else entry)
        if path.exists():
            names |= _env_example_keys(path.read_text())
    return names


def _env_example_keys(text: str) -> set[str]:
    return {m.group(1) for line in text.splitlines() if (m := _ENV_LINE.match(line.strip()))}


def test_vendored_schema_is_the_compose_specification() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["title"] == "Compose Specification"
    assert {"service", "healthcheck", "volume", "network"} <= set(schema["definitions"])


def test_compose_file_is_valid_against_the_compose_spec(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(compose)
    ]
    assert errors == []


def test_the_schema_rejects_what_compose_would_reject(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["api"]["depends_on"]["db"]["condition"] = "service_ready"
    broken["services"]["db"]["helthcheck"] = {}
    assert len(list(validator.iter_errors(broken))) >= 2


def test_database_service(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert re.match(r"^postgres:16(\.\d+)?(-|$)", db["image"])
    volume = db["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data"
    assert volume[0] in compose["volumes"], "the data lives in a named volume"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_api_service(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["build"]["context"] == "."
    assert api["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    assert (ROOT / "Dockerfile").is_file()
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert any(str(port).endswith(":8080") for port in api["ports"])
    assert "/api/ready" in " ".join(api["healthcheck"]["test"])

    env = _environment(api)
    assert env["CUDLY_ENV"] == "production"
    assert re.fullmatch(
        r"postgresql://cudly:\$\{POSTGRES_PASSWORD:\?[^}]+\}@db:5432/cudly", env["DATABASE_URL"]
    )
    assert env["CREDENTIAL_ENCRYPTION_KEY"].startswith("${CREDENTIAL_ENCRYPTION_KEY:?")
    assert env["CUDLY_HOST"] == "0.0.0.0"
    assert str(env["CUDLY_PORT"]) == "8080"


def test_two_api_replicas_share_one_database(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["deploy"]["replicas"] == 2
    assert "container_name" not in api, "a fixed name would stop the second replica"
    # One host port per replica, both onto the container's 8080.
    [ports] = api["ports"]
    host, container = str(ports).rsplit(":", 1)
    first, last = (int(p) for p in host.split("-"))
    assert container == "8080" and last - first + 1 == api["deploy"]["replicas"]
    assert "@db:5432/cudly" in _environment(api)["DATABASE_URL"]
    assert "CUDLY_WORKERS" in _environment(api)  # processes per replica, from .env


def test_every_variable_passed_to_the_api_is_a_setting(compose: dict[str, Any]) -> None:
    settings = setting_names()
    api = compose["services"]["api"]
    names = set(_environment(api)) | _env_file_names(api)
    unknown = sorted(name for name in names if not is_known_variable(name, settings))
    assert unknown == [], f"not read by api.config.Settings (nor botocore): {unknown}"


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if re.search(r"KEY|PASSWORD|SECRET|TOKEN", key) and value is not None:
                assert "${" in str(value), f"{name}.{key} must come from .env, not be written here"


def test_env_example_documents_exactly_known_variables(compose: dict[str, Any]) -> None:
    settings = setting_names()
    documented = _env_example_keys(ENV_EXAMPLE.read_text())
    interpolated = set(_INTERPOLATION.findall(COMPOSE_FILE.read_text()))
    # Compose-only variables: used by interpolation but not settings (the Postgres password).
    compose_only = {name for name in interpolated if not is_known_variable(name, settings)}
    unknown = sorted(
        name
        for name in documented
        if not (is_known_variable(name, settings) or name in compose_only)
    )
    assert unknown == [], f".env.example names that nothing reads: {unknown}"

    passed_through = {k for k, v in _environment(compose["services"]["api"]).items() if v is None}
    undocumented = sorted((interpolated | passed_through) - documented)
    assert undocumented == [], (
        f"used by docker-compose.yml but missing from .env.example: {undocumented}"
    )


def test_env_example_holds_no_secret_values() -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert value == "", f"{name} must be empty in .env.example"
