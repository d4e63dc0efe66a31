"""pytest fixtures for the simulator. Use from a conftest with
``pytest_plugins = ["tests.cloudsim.fixtures"]`` (root conftest) or by importing them.

One HTTPS simulator and one moto server per session (starting them is the slow part);
the function-scoped fixtures reset their state so tests stay independent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .app import SimState
from .collect import CollectSim, collect_env
from .moto_server import reset_moto, run_moto_server
from .server import SimServer, run_cloudsim


@pytest.fixture(scope="session")
def cloudsim_server() -> Iterator[SimServer]:
    with run_cloudsim(tls=True) as sim:
        yield sim


@pytest.fixture
def cloudsim(cloudsim_server: SimServer) -> SimServer:
    """The session's HTTPS simulator, with empty state."""
    cloudsim_server.state.reset()
    return cloudsim_server


@pytest.fixture
def cloudsim_state(cloudsim: SimServer) -> SimState:
    return cloudsim.state


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    with run_moto_server() as url:
        yield url


@pytest.fixture
def moto_url(moto_server_url: str) -> str:
    """The session's moto server URL, reset to empty."""
    reset_moto(moto_server_url)
    return moto_server_url


@pytest.fixture
def collect_sim(cloudsim: SimServer, monkeypatch: pytest.MonkeyPatch) -> CollectSim:
    """The simulator's collection APIs, empty, with ``AWS_ENDPOINT_URL_<SERVICE>`` pointing
    every AWS collection service at it (STS stays wherever the test put it, e.g. moto).
    Settings still need ``collect_settings(cloudsim)`` (Azure/GCP endpoints, CA bundle)."""
    for name, value in collect_env(cloudsim).items():
        monkeypatch.setenv(name, value)
    return cloudsim.state.collect
