"""REST cloud call series (ARM, Google) from the shared httpx client's response hook, and the
decryption-failure counter."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from api.config import Settings
from api.kit.crypto import DecryptionFailed, KeyRing
from api.telemetry import metrics
from api.telemetry.rest import arm_operation, classify, google_operation, instrument_http_client
from tests.conftest import make_settings
from tests.telemetry.conftest import value

SUB = "44444444-4444-4444-8444-444444444441"


def test_operations_come_from_the_url_shape_never_its_ids() -> None:
    assert (
        arm_operation(
            f"/subscriptions/{SUB}/providers/Microsoft.Consumption/reservationRecommendations"
        )
        == "Microsoft.Consumption/reservationRecommendations"
    )
    assert (
        arm_operation("/providers/Microsoft.Capacity/reservations")
        == "Microsoft.Capacity/reservations"
    )
    assert arm_operation(f"/subscriptions/{SUB}") == "subscriptions"
    project = "my-project-123"
    assert (
        google_operation(
            f"/v1/projects/{project}/locations/us-central1/recommenders/"
            "google.compute.commitment.UsageCommitmentRecommender/recommendations"
        )
        == "recommendations"
    )
    assert (
        google_operation(f"/compute/v1/projects/{project}/regions/us-east1/commitments")
        == "commitments"
    )
    assert google_operation(f"/v1/projects/{project}") == "projects"
    assert (
        google_operation(
            "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
        )
        == "generateAccessToken"
    )


def test_one_host_for_every_service_is_told_apart_by_path() -> None:
    settings = make_settings(
        "postgresql+asyncpg://x@/y",
        azure_management_url="https://private.example",
        gcp_api_base_recommender="https://private.example",
        gcp_api_base_compute="https://private.example",
        gcp_api_base_cloudresourcemanager="https://private.example",
        gcp_api_base_iamcredentials="https://private.example",
        gcp_token_uri="https://private.example/token",
        gcp_sts_token_uri="https://private.example/v1/token",
    )
    from api.telemetry.rest import _services

    table = _services(settings)
    host = "private.example"
    assert classify(table, host, f"/subscriptions/{SUB}") == ("azure", "arm")
    assert classify(table, host, "/v1/projects/p/locations/l/recommenders/r/recommendations") == (
        "gcp",
        "recommender",
    )
    assert classify(table, host, "/compute/v1/projects/p/regions/r/commitments") == (
        "gcp",
        "compute",
    )
    assert classify(table, host, "/v1/token") == ("gcp", "sts")
    assert classify(table, host, "/token") == ("gcp", "oauth2")
    assert classify(table, host, "/v3/projects/p") == ("gcp", "cloudresourcemanager")
    assert classify(table, "elsewhere.example", "/x") == ("other", "other")


class StandInArm:
    """Throttles the first ``throttles`` answers, then answers an empty page."""

    def __init__(self, throttles: int) -> None:
        self.throttles = throttles
        self.lock = threading.Lock()


@pytest.fixture
def arm() -> Iterator[str]:
    state = StandInArm(throttles=1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with state.lock:
                throttled = state.throttles > 0
                state.throttles -= 1
            status, body = (
                (429, b'{"error":{"code":"TooManyRequests"}}')
                if throttled
                else (200, b'{"value":[]}')
            )
            if self.path.startswith("/denied"):
                status, body = 403, b'{"error":{"code":"AuthorizationFailed"}}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _scrape() -> str:
    return metrics.render(None, None)[0].decode()


async def test_answers_and_throttles_are_counted(arm: str) -> None:
    settings: Settings = make_settings("postgresql+asyncpg://x@/y", azure_management_url=arm)
    path = f"/subscriptions/{SUB}/providers/Microsoft.Consumption/reservationRecommendations"
    labels = {
        "provider": "azure",
        "service": "arm",
        "operation": "Microsoft.Consumption/reservationRecommendations",
    }
    before = _scrape()
    async with httpx.AsyncClient() as client:
        assert instrument_http_client(instrument_http_client(client, settings), settings) is client
        assert (await client.get(arm + path)).status_code == 429
        assert (await client.get(arm + path)).status_code == 200
        assert (
            await client.get(f"{arm}/denied/providers/Microsoft.Capacity/reservations")
        ).status_code == 403
    after = _scrape()

    def delta(name: str, **extra: str) -> float:
        return value(after, name, **extra) - value(before, name, **extra)

    assert delta("cudly_cloud_calls_total", **labels, outcome="throttled") == 1
    assert delta("cudly_cloud_calls_total", **labels, outcome="ok") == 1
    assert delta("cudly_cloud_throttles_total", **labels) == 1
    assert (
        delta(
            "cudly_cloud_calls_total",
            provider="azure",
            service="arm",
            operation="Microsoft.Capacity/reservations",
            outcome="error",
        )
        == 1
    )
    assert SUB not in after


def test_a_failed_decryption_is_counted() -> None:
    ring = KeyRing(bytes(32))
    account_id = uuid.uuid4()
    blob = ring.encrypt(b"secret", account_id=account_id, credential_type="aws_access_keys")
    before = value(_scrape(), "cudly_credential_decryption_failures_total")
    assert ring.decrypt(blob, account_id=account_id, credential_type="aws_access_keys") == b"secret"
    with pytest.raises(DecryptionFailed):
        ring.decrypt(blob, account_id=uuid.uuid4(), credential_type="aws_access_keys")
    with pytest.raises(DecryptionFailed):
        ring.decrypt("not a blob", account_id=account_id, credential_type="aws_access_keys")
    assert value(_scrape(), "cudly_credential_decryption_failures_total") - before == 2
