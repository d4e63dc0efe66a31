"""Wiring telemetry into the app: HTTP series, tracing, pool gauges, the scrape listener.

``install(app)`` is called once from ``create_app`` (after the routers, before the request
context middleware, so it sees the route FastAPI matched). It adds start/stop hooks that
instrument the engine, watch the pool and, with ``CUDLY_METRICS_BIND``, serve an
unauthenticated ``/metrics`` on a separate address for a scraper inside the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.telemetry import metrics, service, tracing
from api.telemetry.http import HttpMetricsMiddleware

logger = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    """Add the HTTP series middleware, request tracing and the telemetry start/stop hooks."""
    app.add_middleware(HttpMetricsMiddleware)
    tracing.init()
    tracing.instrument_app(app)
    app.state.startup_hooks.append(_start)
    app.state.shutdown_hooks.append(_stop)


async def _start(app: FastAPI) -> None:
    engine = app.state.engine
    service.watch_pool(engine, app.state.settings)
    tracing.instrument_engine(engine)
    bind = app.state.settings.server.metrics_bind
    app.state.metrics_listener = await _serve_metrics(app, bind) if bind else None


async def _stop(app: FastAPI) -> None:
    listener: _Listener | None = getattr(app.state, "metrics_listener", None)
    if listener is not None:
        await listener.stop()
    if tracing.provider() is not None:
        tracing.uninstrument_engine()
    metrics.mark_process_dead(os.getpid())


# --- CUDLY_METRICS_BIND: a separate, unauthenticated listener ------------------------------------


def parse_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6)."""
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an operator's choice


class _Listener:
    def __init__(self, server: Any, task: asyncio.Task[None], sock: socket.socket) -> None:
        self.server = server
        self.task = task
        self.socket = sock

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await self.task
        self.socket.close()


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Several uvicorn workers each open the listener; the kernel spreads scrapes among
    # them and each reports every worker's values (multi-process mode).
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(16)
    sock.setblocking(False)
    return sock


async def _serve_metrics(app: FastAPI, bind: str) -> _Listener | None:
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the main server owns SIGINT/SIGTERM

    async def scrape(request: Request) -> Response:
        body, content_type = await service.scrape(app.state, request.headers.get("accept"))
        return Response(body, media_type=content_type)

    host, port = parse_bind(bind)
    try:
        sock = _socket(host, port)
    except OSError as exc:
        logger.error("CUDLY_METRICS_BIND %s: cannot listen (%s)", bind, exc.strerror)
        return None
    scrape_app = Starlette(routes=[Route("/metrics", scrape, methods=["GET"])])
    config = uvicorn.Config(
        scrape_app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="cudly-metrics-listener")
    listener = _Listener(server, task, sock)
    logger.info("metrics listener on %s:%d/metrics", host, listener.port)
    return listener
