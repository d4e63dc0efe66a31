"""``cudly admin create`` against a real database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.config import get_settings

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEY", "ab" * 32)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def count_admins(url: str) -> int:
    async def go() -> int:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return int(await conn.fetchval("SELECT count(*) FROM users WHERE role = 'admin'"))
        finally:
            await conn.close()

    return asyncio.run(go())


def test_admin_create(cli_env: str) -> None:
    result = CliRunner().invoke(
        app, ["admin", "create", "--email", "cli@example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "cli@example.com" in result.output
    assert PASSWORD not in result.output
    assert count_admins(cli_env) == 1

    again = CliRunner().invoke(
        app, ["admin", "create", "--email", "cli@example.com", "--password", PASSWORD]
    )
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_admin_create_rejects_a_short_password(cli_env: str) -> None:
    result = CliRunner().invoke(
        app, ["admin", "create", "--email", "x@example.com", "--password", "short"]
    )
    assert result.exit_code == 2
    assert "password" in result.output
    assert count_admins(cli_env) == 0
