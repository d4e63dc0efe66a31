"""Shared fixtures: real PostgreSQL, the real app over httpx, settings per test."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.main import create_app
from tests.fixtures.route_models import share_route_type_adapters

share_route_type_adapters()  # each test's app would rebuild the same adapters (see there)

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.auth",
    "tests.cloudsim.fixtures",
]

TEST_KEY = "0" * 63 + "1"

# CI must not turn red on an input nobody has seen: there, property tests and schemathesis
# replay a fixed sequence. Locally they explore freshly each run and report what they find.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": url,
        "run_migrations": False,
        "scheduler_enabled": False,
        "credential_encryption_key": TEST_KEY,
        "log_level": "INFO",
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(database_url: str, settings_overrides: dict[str, object]) -> Settings:
    return make_settings(database_url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session on the test database, for arranging and inspecting rows directly."""
    async with app.state.sessionmaker() as db:
        yield db
        await db.rollback()


@pytest.fixture
def log_capture(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
