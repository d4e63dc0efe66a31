"""Static checks of the Dockerfile and .dockerignore (no Docker engine needed)."""

from __future__ import annotations

import json
import re

import pytest

from ._common import ROOT, setting_names

DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            env.update(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", rest))
    return env


@pytest.fixture(scope="module")
def runtime() -> list[tuple[str, str]]:
    return _stages()[-1]


def test_multi_stage_build() -> None:
    text = DOCKERFILE.read_text()
    stages = _stages()
    assert len(stages) >= 3
    assert re.search(r"ARG NODE_IMAGE=node:\S+", text)
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim\S*", text)
    commands = " ".join(rest for stage in stages for keyword, rest in stage if keyword == "RUN")
    assert "npm ci" in commands and "npm run build" in commands
    assert "pip install ." in commands
    # api/migrate.py finds the Alembic scripts beside the installed package.
    copies = " ".join(rest for stage in stages for keyword, rest in stage if keyword == "COPY")
    assert "migrations/" in copies and "purelib" in commands


def test_runtime_stage(runtime: list[tuple[str, str]]) -> None:
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    copies = " ".join(rest for keyword, rest in runtime if keyword == "COPY")
    assert "/frontend/dist" in copies and "/opt/venv" in copies
    env = _env(runtime)
    assert env["CUDLY_FRONTEND_DIST"] == "/app/frontend/dist"
    assert env["CUDLY_HOST"] == "0.0.0.0"
    assert env["CUDLY_PORT"] == "8080"
    assert dict(runtime).get("EXPOSE") == "8080"
    assert json.loads(dict(runtime)["ENTRYPOINT"]) == ["cudly"]
    assert json.loads(dict(runtime)["CMD"]) == ["serve"]


def test_healthcheck_uses_python_not_curl(runtime: list[tuple[str, str]]) -> None:
    health = dict(runtime)["HEALTHCHECK"]
    command = json.loads(health[health.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"]
    assert "/api/ready" in command[2] and "urllib" in command[2]
    compile(command[2], "<healthcheck>", "exec")
    assert "curl" not in health


def test_no_secret_is_baked_in() -> None:
    settings = setting_names()
    for stage in _stages():
        for name in _env(stage):
            assert not re.search(r"KEY|PASSWORD|SECRET|TOKEN|DATABASE_URL", name), name
            if name.startswith("CUDLY_"):
                assert name in settings, f"{name} is not a setting"
        for keyword, rest in stage:
            if keyword == "ARG":
                assert not re.search(r"KEY|PASSWORD|SECRET|TOKEN", rest), rest


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[next(i for i, line in enumerate(lines) if not line.startswith("#"))] == "*"
    assert "**/.env" in lines
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed >= {"pyproject.toml", "api", "migrations", "frontend"}
    assert not allowed & {".cudly", ".venv", ".env", "terraform", "tests"}
