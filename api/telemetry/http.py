"""HTTP series: one ASGI middleware counting requests by route template, method and status.

The label is the template FastAPI matched (``/api/accounts/{account_id}``), never the raw path,
so series stay bounded however many ids exist; a path no route matches counts as
``unmatched`` (the SPA's client-side routes included).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.telemetry import metrics

UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The full template of the route a request matched (``/api/accounts/{account_id}``).

    FastAPI leaves the matched route in ``scope["route"]``, but for a route of an included
    router its ``path`` lacks the router's prefix (``/accounts/{account_id}``). The route's
    path is the tail of the request path, so the segments before it are the prefix; a prefix
    holding a path parameter's value (or a ``{x:path}`` route) keeps the route's own template,
    so an id never reaches a label.
    """
    route_path = getattr(scope.get("route"), "path", None)
    if not isinstance(route_path, str):
        return UNMATCHED
    if ":path}" in route_path:
        return route_path
    tail = len(route_path.strip("/").split("/")) if route_path.strip("/") else 0
    segments = scope.get("path", "").rstrip("/").split("/")
    prefix = segments[: len(segments) - tail] if tail else segments
    values = {str(v) for v in (scope.get("path_params") or {}).values()}
    if any(segment in values for segment in prefix) or len(prefix) > 8:
        return route_path
    joined = "/".join(prefix)
    return f"{joined}{route_path}" if route_path != "/" else f"{joined}/"


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method = scope.get("method", "")
            metrics.record_http_request(
                route_template(scope),
                method if method in _METHODS else metrics.OTHER,
                status,
                time.perf_counter() - started,
            )
