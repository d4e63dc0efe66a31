"""An authenticated GET /api/accounts while 200 failed sign-ins arrive at once (issue 19 item 1).

A real uvicorn server on an embedded PostgreSQL with the default pool (10 + 10 overflow).
The baseline is the same request with the server idle, measured in the same run; the burst
reports its own duration and how many answers were 5xx (the fix: none, and the admin's
request is not starved of a connection).
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import uvicorn

from api.config import Settings
from api.kit.embedded_db import start_embedded_postgres
from api.main import create_app
from api.migrate import upgrade_async

BURST = 200
ROUNDS = 20
TMPFS = "/dev/shm" if Path("/dev/shm").is_dir() else None
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


async def _latencies(http: httpx.AsyncClient, headers: dict[str, str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await http.get("/api/accounts", headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


async def _measure(base_url: str) -> dict[str, float]:
    limits = httpx.Limits(max_connections=BURST + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=900) as http:
        admin = {"email": "bench@example.com", "password": PASSWORD}
        assert (await http.post("/api/auth/setup-admin", json=admin)).status_code == 201
        token = (await http.post("/api/auth/login", json=admin)).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        await _latencies(http, headers, 3)  # warm-up
        idle = await _latencies(http, headers, ROUNDS)

        async def failed(i: int) -> int:
            body = {"email": f"nobody{i}@example.com", "password": "wrong"}
            return (await http.post("/api/auth/login", json=body)).status_code

        started = time.perf_counter()
        burst = asyncio.gather(*(failed(i) for i in range(BURST)))
        await asyncio.sleep(0.2)
        during = await _latencies(http, headers, ROUNDS)
        statuses = Counter(await burst)
        burst_s = time.perf_counter() - started
    return {
        "idle_median": statistics.median(idle),
        "during_median": statistics.median(during),
        "during_max": max(during),
        "burst_s": burst_s,
        "errors_5xx": float(sum(n for code, n in statuses.items() if code >= 500)),
    }


async def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="cudly-bench-", dir=TMPFS) as tmp:
        url = start_embedded_postgres(Path(tmp), cleanup="delete")
        await upgrade_async(url)
        settings = Settings.model_validate(
            {
                "database_url": url,
                "run_migrations": False,
                "scheduler_enabled": False,
                "credential_encryption_key": "ab" * 32,
                "log_level": "ERROR",
                "login_max_failures_per_ip": 10_000,
            }
        )
        server, thread, base_url = _serve(settings)
        try:
            return await _measure(base_url)
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def main() -> None:
    r = asyncio.run(run())
    print(
        f"{BURST} concurrent failed logins: {r['burst_s']:.1f} s, 5xx answers: {r['errors_5xx']:.0f}"
    )
    print(f"{'GET /api/accounts':<22} {'median ms':>10} {'max ms':>8} {'vs idle':>8}")
    print(f"{'idle':<22} {r['idle_median']:>10.1f} {'':>8} {1.0:>8.1f}")
    print(
        f"{'during the burst':<22} {r['during_median']:>10.1f} {r['during_max']:>8.1f} "
        f"{r['during_median'] / r['idle_median']:>8.1f}"
    )


if __name__ == "__main__":
    main()
