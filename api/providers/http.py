"""The one TLS/HTTP setup for every cloud call: system CAs plus ``CUDLY_CA_BUNDLE``.

Every cloud client is built from here, so a TLS-inspecting corporate proxy (or an HTTPS
test double) is trusted the same way by httpx (ARM, Google REST), aiohttp (azure-identity),
google-auth's token refresh and botocore.

Hosts come only from settings (SPEC §1 SSRF rule); redirects are never followed, so a cloud
answer cannot send a request (with its bearer token) somewhere else.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx

from api.config import Settings
from api.providers.base import ProviderError


def _bundle_fingerprint(path: Path) -> tuple[str, float, int]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise ProviderError(
            f"CUDLY_CA_BUNDLE ({path}) cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None
    return str(path), stat.st_mtime, stat.st_size


@lru_cache(maxsize=8)
def _context(bundle: tuple[str, float, int] | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()  # the system CAs (honours SSL_CERT_FILE/DIR)
    if bundle is not None:
        try:
            ctx.load_verify_locations(cafile=bundle[0])
        except (OSError, ssl.SSLError) as exc:
            raise ProviderError(
                f"CUDLY_CA_BUNDLE ({bundle[0]}) is not a readable PEM file: {type(exc).__name__}"
            ) from None
    return ctx


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """An SSL context trusting the system CAs and, when set, ``CUDLY_CA_BUNDLE``.

    Cached per bundle file version; contexts are only read after creation, so sharing one
    across clients and threads is safe.
    """
    bundle = _bundle_fingerprint(settings.clouds.ca_bundle) if settings.clouds.ca_bundle else None
    return _context(bundle)


def timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.clouds.http_timeout_s)


def async_client(settings: Settings) -> httpx.AsyncClient:
    """An httpx client for cloud REST calls (use as ``async with``)."""
    return httpx.AsyncClient(
        verify=ssl_context(settings), timeout=timeout(settings), follow_redirects=False
    )


def sync_client(settings: Settings) -> httpx.Client:
    """A blocking httpx client (google-auth refreshes synchronously, in a thread)."""
    return httpx.Client(
        verify=ssl_context(settings), timeout=timeout(settings), follow_redirects=False
    )


_combined_lock = threading.Lock()


@lru_cache(maxsize=8)
def _combined_bundle(bundle: tuple[str, float, int]) -> str:
    # botocore's ``verify=<path>`` *replaces* its default CAs; the SPEC wants the bundle in
    # addition to them, so hand it a file holding both.
    parts: list[bytes] = []
    defaults = ssl.get_default_verify_paths().cafile or ""
    candidates = [os.environ.get("AWS_CA_BUNDLE", ""), defaults]
    try:
        import certifi

        candidates.append(certifi.where())
    except ImportError:  # pragma: no cover - certifi ships with botocore's dependencies
        pass
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            parts.append(Path(candidate).read_bytes())
            break
    parts.append(Path(bundle[0]).read_bytes())
    digest = hashlib.sha256(b"\n".join(parts)).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"cudly-ca-{digest}.pem"
    with _combined_lock:
        if not target.exists():
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(b"\n".join(parts))
            tmp.replace(target)
    return str(target)


def botocore_verify(settings: Settings) -> str | None:
    """The ``verify=`` value for aioboto3 clients: None (botocore's defaults) or a PEM path
    holding the default CAs plus ``CUDLY_CA_BUNDLE``."""
    if settings.clouds.ca_bundle is None:
        return None
    return _combined_bundle(_bundle_fingerprint(settings.clouds.ca_bundle))


@lru_cache(maxsize=8)
def _botocore_context(verify: str | bool) -> ssl.SSLContext:
    from botocore.httpsession import create_urllib3_context, get_cert_path

    ctx: ssl.SSLContext = create_urllib3_context()
    ca_certs = get_cert_path(verify)
    if ca_certs:
        ctx.load_verify_locations(ca_certs, None, None)
    return ctx


def _shared_context_session_cls() -> type:
    from aiobotocore.httpsession import AIOHTTPSession

    class SharedContextSession(AIOHTTPSession):  # type: ignore[misc]
        """aiobotocore's HTTP session, with one SSL context per CA bundle for the process.

        aiobotocore builds a context and loads the whole CA file for every client's first
        request (~0.2 s CPU here): per account and service that dominates a sweep. The
        context is only read after creation, so sharing it is safe.
        """

        def _create_connector(self, proxy_url: str | None) -> Any:
            if proxy_url or self._cert_file or not self._verify:
                return super()._create_connector(proxy_url)
            import aiohttp

            return aiohttp.TCPConnector(
                limit=self._max_pool_connections,
                ssl=_botocore_context(self._verify),
                **self._connector_args,
            )

    return SharedContextSession


@lru_cache(maxsize=1)
def botocore_http_session_cls() -> type:
    """The ``http_session_cls`` for every aioboto3 client (see SharedContextSession)."""
    return _shared_context_session_cls()


def error_summary(response: httpx.Response, code_field: str) -> str:
    """``<code>: <message>`` of an ARM or Google error body (``{"error": {…}}``), at most
    300 characters of message; the HTTP status when the body is not that shape."""
    try:
        error = response.json().get("error", {})
        code = error.get(code_field, response.status_code)
        return f"{code}: {str(error.get('message', ''))[:300]}"
    except (ValueError, AttributeError):
        return str(response.status_code)
