"""HTTP series: one ASGI middleware counting requests by route template, method and status.

The label is the template FastAPI matched (``/api/accounts/{account_id}``), never the raw path,
so series stay bounded however many ids exist; a path no route matches counts as
``unmatched`` (the SPA's client-side routes included).
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.telemetry import metrics

UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RouteTemplates:
    """The full template of the route a request matched.

    FastAPI leaves the matched route (``scope["route"]``) in the scope, but for a route of an
    included router its ``path`` lacks the router's prefix (``/accounts/{account_id}``). The
    full templates come from the OpenAPI document; the matched route's template is the one
    ending with its path (the request path decides between several).
    """

    def __init__(self) -> None:
        self._templates: list[tuple[str, re.Pattern[str]]] | None = None
        self._by_suffix: dict[str, list[tuple[str, re.Pattern[str]]]] = {}

    def _load(self, app: Any) -> list[tuple[str, re.Pattern[str]]]:
        if self._templates is None:
            try:
                paths = list(app.openapi().get("paths", {}))
            except Exception:
                paths = []
            self._templates = [(path, _pattern(path)) for path in paths]
        return self._templates

    def template(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        if not isinstance(path, str):
            return UNMATCHED
        candidates = self._by_suffix.get(path)
        if candidates is None:
            templates = self._load(scope.get("app"))
            candidates = [t for t in templates if t[0].endswith(path)]
            self._by_suffix[path] = candidates
        if len(candidates) == 1:
            return candidates[0][0]
        for template, pattern in candidates:
            if pattern.fullmatch(scope.get("path", "")):
                return template
        return path  # a route outside the document: its own template, still bounded


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = RouteTemplates()

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
                self.routes.template(scope),
                method if method in _METHODS else metrics.OTHER,
                status,
                time.perf_counter() - started,
            )
