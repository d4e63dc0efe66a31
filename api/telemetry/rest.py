"""Cloud call series for the REST clouds (ARM, Google APIs) from httpx's event hooks.

``instrument_http_client(client, settings)`` adds a response hook to the shared httpx client:
each answer counts in ``cudly_cloud_calls_total`` and a throttling answer (429, or 503 which
both clouds use to shed load) in ``cudly_cloud_throttles_total``. Labels are derived from the
URL's *shape*, never its ids: the host picks the service from the configured endpoints, and
the operation is the resource type (``Microsoft.Consumption/reservationRecommendations``) or
the last collection name of a Google path (``recommendations``, ``commitments``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from api.config import Settings
from api.telemetry import metrics

THROTTLING_STATUSES = frozenset({429, 503})
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")
_MARK = "_cudly_instrumented"


def _host(url: str) -> str:
    return httpx.URL(url).host


Service = tuple[str, str]  # (provider, service)


def _services(settings: Settings) -> dict[str, list[Service]]:
    """host -> the (provider, service) pairs configured on it (one each on the real clouds)."""
    table: dict[str, list[Service]] = {}
    for url, service in (
        (settings.clouds.azure_management_url, ("azure", "arm")),
        (settings.clouds.gcp_api_base_recommender, ("gcp", "recommender")),
        (settings.clouds.gcp_api_base_compute, ("gcp", "compute")),
        (settings.clouds.gcp_api_base_cloudresourcemanager, ("gcp", "cloudresourcemanager")),
        (settings.clouds.gcp_api_base_iamcredentials, ("gcp", "iamcredentials")),
        (settings.clouds.gcp_token_uri, ("gcp", "oauth2")),
        (settings.clouds.gcp_sts_token_uri, ("gcp", "sts")),
    ):
        table.setdefault(_host(url), []).append(service)
    return table


def _by_path(path: str, candidates: list[Service]) -> Service:
    """Several services behind one host (a private endpoint, a proxy): tell them by path."""
    rules: list[tuple[Service, bool]] = [
        (("azure", "arm"), path.startswith(("/subscriptions", "/providers", "/tenants"))),
        (("gcp", "iamcredentials"), ":generateAccessToken" in path),
        (("gcp", "recommender"), "/recommenders/" in path),
        (("gcp", "compute"), path.startswith("/compute/")),
        (("gcp", "sts"), path.rstrip("/").endswith("/v1/token")),
        (("gcp", "oauth2"), path.rstrip("/").endswith("/token")),
        (("gcp", "cloudresourcemanager"), "/projects/" in path),
    ]
    for service, matches in rules:
        if matches and service in candidates:
            return service
    return (metrics.OTHER, metrics.OTHER)


def classify(services: dict[str, list[Service]], host: str, path: str) -> Service:
    candidates = services.get(host, [])
    if len(candidates) == 1:
        return candidates[0]
    return _by_path(path, candidates)


def arm_operation(path: str) -> str:
    """``Microsoft.Consumption/reservationRecommendations`` from an ARM path, else the first
    collection (``subscriptions``)."""
    segments = [s for s in path.split("/") if s]
    if "providers" in segments:
        index = len(segments) - 1 - segments[::-1].index("providers")
        namespace, kind = segments[index + 1 : index + 2], segments[index + 2 : index + 3]
        if namespace and kind and _NAME.match(namespace[0]) and _NAME.match(kind[0]):
            return f"{namespace[0]}/{kind[0]}"
        return metrics.OTHER
    return segments[0] if segments and _NAME.match(segments[0]) else metrics.OTHER


def google_operation(path: str) -> str:
    """The last collection name of a Google REST path (ids sit between collection names),
    or its custom method (``generateAccessToken``)."""
    segments = [s for s in path.split("/") if s]
    last = segments[-1] if segments else ""
    if ":" in last:
        method = last.rsplit(":", 1)[1]
        return method if _NAME.match(method) else metrics.OTHER
    while segments and re.fullmatch(r"v\d+[a-z0-9]*|compute", segments[0]):
        segments = segments[1:]  # the version (and Compute's /compute/v1 prefix)
    collections = segments[0::2]
    if collections and _NAME.match(collections[-1]):
        return collections[-1]
    return metrics.OTHER


def instrument_http_client(client: httpx.AsyncClient, settings: Settings) -> httpx.AsyncClient:
    """Count every answer the shared REST client receives (idempotent); returns the client."""
    if getattr(client, _MARK, False):
        return client
    services = _services(settings)

    async def on_response(response: httpx.Response) -> None:
        request = response.request
        path = request.url.path
        provider, service = classify(services, request.url.host, path)
        operation = arm_operation(path) if provider == "azure" else google_operation(path)
        status = response.status_code
        if status in THROTTLING_STATUSES:
            metrics.record_throttle(provider, service, operation)
            outcome = "throttled"
        else:
            outcome = "ok" if status < 400 else "error"
        metrics.record_cloud_call(provider, service, operation, outcome)

    hooks: dict[str, list[Any]] = {k: list(v) for k, v in client.event_hooks.items()}
    hooks.setdefault("response", []).append(on_response)
    client.event_hooks = hooks
    setattr(client, _MARK, True)
    return client
