"""`cudly serve` with two uvicorn workers and PROMETHEUS_MULTIPROC_DIR: whichever worker
answers a request, a scrape (here through CUDLY_METRICS_BIND) counts every request once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_KEY
from tests.telemetry.conftest import value

REQUESTS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    api_port, metrics_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CREDENTIAL_ENCRYPTION_KEY": TEST_KEY,
        "CUDLY_ENV": "test",
        "CUDLY_RUN_MIGRATIONS": "false",
        "CUDLY_SCHEDULER_ENABLED": "false",
        "CUDLY_LOG_LEVEL": "WARNING",
        "CUDLY_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "WEB_CONCURRENCY": "2",
    }
    cudly = str(Path(sys.executable).parent / "cudly")
    server = subprocess.Popen(
        [cudly, "serve", "--host", "127.0.0.1", "--port", str(api_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.5)
        yield f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{metrics_port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_every_workers_requests_are_counted_once(two_workers: tuple[str, str]) -> None:
    api, scraper = two_workers
    before = value(
        httpx.get(f"{scraper}/metrics").text, "cudly_http_requests_total", route="/api/health"
    )
    pool_sizes = set()
    with httpx.Client(base_url=api, timeout=10) as client:
        for _ in range(REQUESTS):
            # A new connection each time, so the kernel may hand it to either worker.
            response = client.get("/api/health", headers={"Connection": "close"})
            assert response.status_code == 200
    for _ in range(6):  # each scrape lands on one worker; all of them report the sum
        body = httpx.get(f"{scraper}/metrics").text
        after = value(body, "cudly_http_requests_total", route="/api/health", status="200")
        assert after - before == REQUESTS
        pool_sizes.add(value(body, "cudly_db_pool_size"))
    # Both workers live and reporting: 2 x (CUDLY_DB_POOL_SIZE 10 + as many overflow).
    assert pool_sizes == {2 * 2 * 10}
