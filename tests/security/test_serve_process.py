"""``cudly serve`` as an operator runs it: start-up errors, SIGTERM, forwarding headers, and
the embedded PostgreSQL never outliving its owner (issue 19 items 4, 12, 13).

Every process here is started by the test and stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from api.kit.embedded_db import stop_stale_server
from tests.conftest import TEST_KEY

CUDLY = str(Path(sys.executable).with_name("cudly"))
START_TIMEOUT_S = 240


def clean_env(**values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CUDLY_") and k not in {"DATABASE_URL", "CREDENTIAL_ENCRYPTION_KEY"}
    }
    env.update(values)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_for(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(process)
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # tmpfs when there is one (as tests/fixtures/database.py); readable by the postgres user.
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="cudly-serve-", dir=base))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for process in postgres_for((path / "pgdata").resolve()):
            process.kill()  # only ever a server this test's own processes started
        shutil.rmtree(path, ignore_errors=True)


# --- item 12: operator errors -------------------------------------------------------------


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUDLY, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_production_without_a_key_is_one_line_and_exit_2() -> None:
    result = run_cli(clean_env(CUDLY_ENV="production"), "serve")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "pydantic" not in result.stderr
    lines = [line.strip() for line in result.stderr.strip().splitlines()]
    assert lines[0] == "cudly: invalid settings:"
    assert len(lines) == 2
    assert "CREDENTIAL_ENCRYPTION_KEY" in lines[1]


def test_each_bad_variable_gets_its_own_line() -> None:
    result = run_cli(
        clean_env(CUDLY_PORT="eighty", CUDLY_LOG_FORMAT="xml", CREDENTIAL_ENCRYPTION_KEY="short"),
        "migrate",
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    problems = [line.strip() for line in result.stderr.strip().splitlines()[1:]]
    assert sorted(p.split(":", 1)[0] for p in problems) == [
        "CREDENTIAL_ENCRYPTION_KEY",
        "CUDLY_LOG_FORMAT",
        "CUDLY_PORT",
    ]
    assert "short" not in result.stderr  # a mistyped secret is never echoed


# --- items 4 and 13: a real server --------------------------------------------------------


def start_server(data_dir: Path, port: int, **extra: str) -> subprocess.Popen[str]:
    env = clean_env(
        CUDLY_DATA_DIR=str(data_dir),
        CUDLY_PORT=str(port),
        CUDLY_SCHEDULER_ENABLED="false",
        CREDENTIAL_ENCRYPTION_KEY=TEST_KEY,
        CUDLY_LOG_LEVEL="WARNING",
        **extra,
    )
    process = subprocess.Popen(
        [CUDLY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"cudly serve exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise AssertionError("cudly serve did not become healthy")


def test_sigterm_stops_the_server_and_its_embedded_postgres(data_dir: Path) -> None:
    port = free_port()
    server = start_server(data_dir, port, CUDLY_LOGIN_MAX_FAILURES_PER_IP="3")
    pgdata = (data_dir / "pgdata").resolve()
    try:
        assert postgres_for(pgdata), "the embedded server runs under the data dir"
        # item 4: uvicorn's own forwarding-header handling is off, and no proxy is trusted
        statuses = [
            httpx.post(
                f"http://127.0.0.1:{port}/api/auth/login",
                json={"email": f"user{i}@example.com", "password": "x"},
                headers={"X-Forwarded-For": f"192.0.2.{i}"},
                timeout=60,
            ).status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        # A request line h11 refuses (over its 16 KiB limit, still incomplete) gets the API's
        # JSON error, not uvicorn's plain text. Sent raw: no client sends such a URL itself.
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(b"GET /api/recommendations?account_ids=" + b"0" * 20_000)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ")
        assert b"content-type: application/json" in head.lower()
        refused = json.loads(body)
        assert refused["code"] == "bad_request" and "16 KiB" in refused["error"]
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 128 + signal.SIGTERM
    deadline = time.monotonic() + 30
    while postgres_for(pgdata) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert postgres_for(pgdata) == []


def test_a_start_stops_a_server_whose_owner_died(data_dir: Path) -> None:
    """An owner killed outright (SIGKILL: no exit handler runs) leaves the server behind."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from api.kit.embedded_db import start_embedded_postgres;"
            "start_embedded_postgres(Path(sys.argv[1])); print('ready', flush=True); time.sleep(600)",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
    finally:
        owner.kill()
        owner.wait()
    pgdata = (data_dir / "pgdata").resolve()
    assert postgres_for(pgdata), "the orphan is still running"
    assert stop_stale_server(pgdata) is True
    assert postgres_for(pgdata) == []
    assert stop_stale_server(pgdata) is False  # nothing left to stop
