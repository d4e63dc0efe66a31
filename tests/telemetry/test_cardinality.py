"""Label hygiene and bounded cardinality: the series do not grow with the number of accounts.

Each phase records everything a collection run over N accounts records (one sweep, cloud
calls, throttles and retries per account, one run), answers requests naming N account ids
and holds N account rows plus purchase lines; the set of series (name + labels) after
10 accounts equals the set after 1,000.
"""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import Provider, RunAccountStatus
from api.models import CloudAccount
from api.telemetry import metrics
from tests.conftest import TEST_KEY
from tests.telemetry.conftest import Sample, samples

ALLOWED_LABELS = {
    "route",
    "method",
    "status",
    "outcome",
    "provider",
    "service",
    "operation",
    "state",
    "le",
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/{}+-]*$")
PROVIDERS = list(Provider)
OUTCOMES = list(RunAccountStatus)


async def _phase(
    client: httpx.AsyncClient, session: AsyncSession, count: int, seen_ids: list[str]
) -> None:
    rows = []
    for index in range(count):
        account_id = uuid.uuid4()
        seen_ids.append(str(account_id))
        # Providers and outcomes cycle over ten accounts, so the first phase has seen every
        # combination the second one produces: only a per-account label could add series.
        n = index % 10
        provider = PROVIDERS[n % len(PROVIDERS)]
        rows.append(
            {
                "id": account_id,
                "name": f"acct-{account_id}",
                "provider": provider.value,
                "external_id": f"{uuid.uuid4().int % 10**12:012d}",
            }
        )
        metrics.observe_account_sweep(
            0.1 * (n % 50),
            OUTCOMES[n % len(OUTCOMES)],
            provider=provider,
            cloud_account_id=account_id,
        )
        outcome = ("ok", "throttled", "error", "timeout")[n % 4]
        metrics.record_cloud_call(
            provider, "cost-explorer", "GetReservationPurchaseRecommendation", outcome
        )
        metrics.record_throttle(provider, "cost-explorer", "GetReservationPurchaseRecommendation")
        metrics.record_retry(provider, "cost-explorer", "GetReservationPurchaseRecommendation", 2)
        # Free text in a label slot (a bug in a caller) is folded, never exported as is.
        metrics.record_cloud_call(provider, f"svc {account_id}", f"op@{account_id}", "ok")
        response = await client.get(f"/api/accounts/{account_id}")
        assert response.status_code == 401
    await session.execute(insert(CloudAccount), rows)
    await session.commit()
    metrics.record_run("completed", 12.5)


def _series(body: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(name, tuple(sorted(labels.items()))) for name, labels, _ in samples(body)}


def _assert_clean(found: list[Sample], secrets: list[str]) -> None:
    for name, labels, _ in found:
        assert set(labels) <= ALLOWED_LABELS, (name, labels)
        for label_value in labels.values():
            assert SAFE_VALUE.match(label_value), (name, labels)
            assert not UUID.search(label_value), (name, labels)
            assert "@" not in label_value
            assert not any(secret in label_value for secret in secrets), (name, labels)


async def test_series_stay_flat_from_10_to_1000_accounts(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seen_ids: list[str] = []
    await admin_client.get("/metrics")  # the scrape's own series exist from here on
    await _phase(client, session, 10, seen_ids)
    first = (await admin_client.get("/metrics")).text
    await _phase(client, session, 990, seen_ids)
    second = (await admin_client.get("/metrics")).text

    assert _series(second) == _series(first)
    admin_email = (await admin_client.get("/api/auth/me")).json()["email"]
    token = admin_client.headers["authorization"].removeprefix("Bearer ")
    _assert_clean(samples(second), [TEST_KEY, token, admin_email, *seen_ids])
    assert not any(account_id in second for account_id in seen_ids)
    assert "other" in {labels.get("service") for _, labels, _ in samples(second)}


async def test_exemplars_carry_the_account_id_for_openmetrics_scrapers(
    admin_client: httpx.AsyncClient,
) -> None:
    account_id = uuid.uuid4()
    metrics.observe_account_sweep(0.42, "ok", provider="aws", cloud_account_id=account_id)
    plain = (await admin_client.get("/metrics")).text
    assert str(account_id) not in plain  # the Prometheus text format has no exemplars
    open_metrics = await admin_client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    exemplar_lines = [line for line in open_metrics.text.splitlines() if str(account_id) in line]
    assert exemplar_lines and all(" # {" in line for line in exemplar_lines)
