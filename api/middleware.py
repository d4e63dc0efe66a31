"""Pure ASGI middleware: request id, body size limit, access log, security headers, proxies."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.config import Settings
from api.errors import error_response
from api.logging import request_id_var

logger = logging.getLogger("cudly.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``; an HTTPException so FastAPI's body parser re-raises it as is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


def _drop_empty_query_params(scope: Scope) -> Scope:
    """``?provider=&since=`` means "no filter" everywhere (SPEC writes filters that way)."""
    raw: bytes = scope.get("query_string", b"")
    if not raw or b"=" not in raw:
        return scope
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if v != ""]
    if len(kept) == len(pairs):
        return scope
    return {**scope, "query_string": urlencode(kept).encode("latin-1")}


class RequestContextMiddleware:
    """Assigns ``X-Request-ID``, enforces ``max_body_bytes`` (413), logs one line per request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = _drop_empty_query_params(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500, "sent": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and (
                not declared.isdigit() or int(declared) > self.max_body_bytes
            ):
                await self._too_large(scope, receive, send_wrapper)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge(self.max_body_bytes)
                return message

            try:
                await self.app(scope, limited_receive, send_wrapper)
            except _BodyTooLarge:
                if not status["sent"]:
                    await self._too_large(scope, receive, send_wrapper)
        finally:
            logger.info(
                "%s %s %s",
                scope.get("method"),
                scope.get("path"),
                status["code"],
                extra={
                    "status": status["code"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            request_id_var.reset(token)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"request body exceeds the limit of {self.max_body_bytes} bytes",
            "payload_too_large",
        )
        await response(scope, receive, send)


# The SPA is a Vite build: its scripts and styles come from 'self'; Mantine (and Swagger UI)
# set inline styles, so style-src also allows 'unsafe-inline'. No inline script anywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"
# Static files that may be cached; every other API answer may carry a token or a key.
_CACHEABLE_PREFIXES = ("/api/docs/assets/",)


class SecurityHeadersMiddleware:
    """The headers every response carries (docs/security.md): nosniff, no referrer, no framing,
    a strict CSP, ``Cache-Control: no-store`` on API answers, and HSTS behind https."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            headers.append((b"strict-transport-security", HSTS.encode()))
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        no_store = (path == "/api" or path.startswith("/api/")) and not path.startswith(
            _CACHEABLE_PREFIXES
        )

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


def trusted_proxies(settings: Settings) -> list[str]:
    return [p.strip() for p in settings.server.trusted_proxies.split(",") if p.strip()]


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Every middleware, outermost last.

    ``X-Forwarded-For``/``-Proto`` are believed only from ``CUDLY_TRUSTED_PROXIES`` (default:
    nobody), whatever server runs the app; ``cudly serve`` turns uvicorn's own handling off.
    """
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.server.max_body_bytes)
    public = settings.server.public_url or ""
    app.add_middleware(SecurityHeadersMiddleware, hsts=public.lower().startswith("https://"))
    proxies = trusted_proxies(settings)
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
