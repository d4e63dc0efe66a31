"""Real server processes on one database, for the execution scale-out tests.

Each server is the real app under uvicorn (``api.main:app_factory``), configured only through
its environment as an operator runs a replica: the scheduler on (so it is a worker: it
listens, claims and polls), real purchases enabled, botocore pointed at the AWS purchase
simulator (and every other AWS endpoint too, so nothing ever leaves the machine).

Two cold starts of the app cost tens of seconds on a loaded 2-core machine, so servers are
forked from a pre-warmed parent (``python -m tests.purchases.scaleout_servers``, one per test
session, like ``crash_worker.py``) that has built the app once: each stdin line is a JSON
object ``{"port", "env"}``; the answer is the forked server's pid. No engine, loop or
connection exists before the fork: each server reads its settings from its environment and
runs the lifespan (database, runners, listeners) of its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import httpx

from tests.cloudsim.aws_purchases import AwsPurchaseServer
from tests.conftest import TEST_KEY


@dataclass
class ServerProcess:
    url: str
    pid: int

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """SIGKILL by default: no shutdown hook runs, its claims are left as they were."""
        if self.alive():
            os.kill(self.pid, sig)
        deadline = time.monotonic() + 30
        while self.alive():  # the parent reaps it (SIGCHLD ignored there)
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
            time.sleep(0.02)


class ServerZygote:
    """The pre-warmed parent the server processes are forked from."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def fork(self, port: int, env: dict[str, str]) -> int:
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"port": port, "env": env}) + "\n")
        stdin.flush()
        return int(stdout.readline())


@contextmanager
def server_zygote() -> Iterator[ServerZygote]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.purchases.scaleout_servers"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield ServerZygote(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(
    database_url: str, aws: AwsPurchaseServer, settings: dict[str, str]
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CUDLY_", "AWS_")) and key != "DATABASE_URL"
    }
    env.update(aws.env())
    env.update(
        {
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "DATABASE_URL": database_url,
            "CREDENTIAL_ENCRYPTION_KEY": TEST_KEY,
            "CUDLY_ENV": "test",
            "CUDLY_RUN_MIGRATIONS": "false",
            "CUDLY_SCHEDULER_ENABLED": "true",
            "CUDLY_PURCHASES_ENABLED": "true",
            "CUDLY_PURCHASE_APPROVAL": "none",
            "CUDLY_PURCHASE_GRACE_DAYS": "0",
            "CUDLY_LOG_LEVEL": "WARNING",
        }
    )
    env.update(settings)
    return env


def _wait_ready(server: ServerProcess) -> None:
    deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
    while True:
        if not server.alive():
            raise RuntimeError(f"server {server.pid} exited")
        try:
            if httpx.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server {server.pid} did not start")
        time.sleep(0.05)


@contextmanager
def server_processes(
    zygote: ServerZygote,
    database_url: str,
    aws: AwsPurchaseServer,
    count: int,
    **settings: str,
) -> Iterator[list[ServerProcess]]:
    """``count`` server processes on ``database_url``, started together, stopped at the end."""
    env = _environment(database_url, aws, settings)
    servers: list[ServerProcess] = []
    try:
        for _ in range(count):
            port = _free_port()
            servers.append(ServerProcess(f"http://127.0.0.1:{port}", zygote.fork(port, env)))
        for server in servers:
            _wait_ready(server)
        yield servers
    finally:
        for server in servers:
            server.kill(signal.SIGTERM)


def _serve(app: Any, port: int, env: dict[str, str]) -> None:
    import uvicorn

    from api.config import Settings

    os.environ.clear()
    os.environ.update(env)
    # The app was built before the fork; everything that reads the settings at start-up
    # (database, runners, workers, listeners) reads these, from this server's environment.
    app.state.settings = Settings()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    from api.main import create_app
    from tests.conftest import make_settings
    from tests.purchases.crash_worker import _prewarm_botocore

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # servers are reaped automatically
    _prewarm_botocore()
    # Routes, schemas and middleware built once here (it connects nothing), so a forked
    # server only runs its lifespan; the placeholder settings are replaced in the child.
    app = create_app(make_settings("postgresql+asyncpg://placeholder@/placeholder"))
    for raw in sys.stdin:
        request = json.loads(raw)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _serve(app, int(request["port"]), dict(request["env"]))
            except BaseException:
                code = 1
            os._exit(code)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
