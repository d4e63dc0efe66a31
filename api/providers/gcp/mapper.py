"""GCP payloads → provider-neutral recommendations and commitments (pure functions).

A Recommender commitment recommendation carries its purchase in
``content.operationGroups[].operations[]`` (``action: add`` on
``compute.googleapis.com/Commitment``): either one ``value`` at path ``/`` holding
``{plan, type, resources}``, or one operation per field (``/plan``, ``/type``,
``/resources``) - both layouts are read. Its ``primaryImpact.costProjection.cost`` is
negative for savings (``units`` + ``nanos``) over ``duration`` (scaled here to 30 days).
Recommender gives no on-demand or commitment cost, so those are 0 and ``savings_percent``
is 0. Commitments are paid monthly: ``payment`` is always ``no-upfront``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from api.enums import Payment
from api.providers.base import CommitmentData, RecommendationData
from api.providers.retry import malformed

SERVICE = "compute"
PLANS = {"TWELVE_MONTH": 1, "THIRTY_SIX_MONTH": 3}
COMMITMENT_TYPE = "compute.googleapis.com/Commitment"
_STATES = {
    "ACTIVE": "active",
    "EXPIRED": "expired",
    "NOT_YET_ACTIVE": "pending",
    "CANCELLED": "cancelled",
    "CREATING": "pending",
}
WHAT = "GCP commitment recommendations"
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)s$")
MONTH_S = Decimal(30 * 86400)


def _decimal(value: Any, field: str, what: str = WHAT) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise malformed(what, f"{field} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise malformed(what, f"{field} is not a number") from None
    if not number.is_finite():
        raise malformed(what, f"{field} is not a number")
    return number


def _money(cost: Any) -> tuple[Decimal, str]:
    if not isinstance(cost, dict):
        raise malformed(WHAT, "costProjection.cost is not a Money")
    units = _decimal(cost.get("units"), "cost.units")
    nanos = _decimal(cost.get("nanos"), "cost.nanos")
    return units + nanos / Decimal(1_000_000_000), str(cost.get("currencyCode") or "USD")


def _commitment_value(content: Any) -> dict[str, Any]:
    """``{plan, type, resources}`` from either operation layout."""
    value: dict[str, Any] = {}
    if not isinstance(content, dict):
        raise malformed(WHAT, "content is not an object")
    groups = content.get("operationGroups") or []
    if not isinstance(groups, list):
        raise malformed(WHAT, "operationGroups is not a list")
    for group in groups:
        operations = group.get("operations") if isinstance(group, dict) else None
        if not isinstance(operations, list):
            raise malformed(WHAT, "operations is not a list")
        for op in operations:
            if not isinstance(op, dict) or op.get("resourceType") != COMMITMENT_TYPE:
                continue
            path = str(op.get("path") or "/")
            if path == "/" and isinstance(op.get("value"), dict):
                value.update(op["value"])
            elif path.startswith("/") and "value" in op:
                value[path.strip("/").split("/")[0]] = op["value"]
    return value


def _resources(value: dict[str, Any]) -> tuple[Decimal, Decimal]:
    vcpus = memory = Decimal(0)
    resources = value.get("resources") or []
    if not isinstance(resources, list):
        raise malformed(WHAT, "resources is not a list")
    for resource in resources:
        if not isinstance(resource, dict):
            raise malformed(WHAT, "a resource is not an object")
        amount = _decimal(resource.get("amount"), "resources.amount")
        if resource.get("type") == "VCPU":
            vcpus += amount
        elif resource.get("type") == "MEMORY":
            memory += amount
    return vcpus, memory


def recommendations(region: str, page: dict[str, Any], term: int) -> list[RecommendationData]:
    """One page of ``recommendations.list`` → the commitments of the configured term."""
    items = page.get("recommendations")
    if items is None:
        return []
    if not isinstance(items, list):
        raise malformed(WHAT, "recommendations is not a list")
    found: list[RecommendationData] = []
    for item in items:
        if not isinstance(item, dict):
            raise malformed(WHAT, "a recommendation is not an object")
        value = _commitment_value(item.get("content"))
        plan_term = PLANS.get(str(value.get("plan")))
        if plan_term is None:
            continue  # not a commitment purchase we understand (e.g. a resize)
        if plan_term != term:
            continue
        impact = item.get("primaryImpact") or {}
        projection = impact.get("costProjection") if isinstance(impact, dict) else None
        if not isinstance(projection, dict):
            raise malformed(WHAT, "primaryImpact.costProjection is missing")
        cost, currency = _money(projection.get("cost"))
        match = _SECONDS.match(str(projection.get("duration") or "2592000s"))
        duration = Decimal(match.group(1)) if match else MONTH_S
        monthly_savings = (-cost * MONTH_S / duration) if duration else -cost
        vcpus, memory = _resources(value)
        found.append(
            RecommendationData(
                service=SERVICE,
                region=region,
                resource_type=str(value.get("type") or ""),
                engine="",
                term=plan_term,
                payment=Payment.no_upfront.value,
                variant="",
                count=vcpus,
                upfront_cost=Decimal(0),
                recurring_monthly_cost=Decimal(0),
                on_demand_monthly_cost=Decimal(0),
                estimated_monthly_savings=monthly_savings.quantize(Decimal("0.000001")),
                savings_percent=Decimal(0),
                currency=currency,
                details={
                    "recommendation_name": item.get("name"),
                    "plan": value.get("plan"),
                    "type": value.get("type"),
                    "vcpus": str(vcpus),
                    "memory_mb": str(memory),
                    "resources": value.get("resources"),
                    "subtype": item.get("recommenderSubtype"),
                },
            )
        )
    return found


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def commitments(page: dict[str, Any]) -> list[CommitmentData]:
    """One page of ``aggregated/commitments`` (``items: {"regions/<r>": {commitments}}``)."""
    what = "the GCP commitments inventory"
    items = page.get("items") or {}
    if not isinstance(items, dict):
        raise malformed(what, "items is not a map")
    found: list[CommitmentData] = []
    for scope, entry in items.items():
        if not isinstance(entry, dict):
            raise malformed(what, "a region entry is not an object")
        listed = entry.get("commitments") or []
        if not isinstance(listed, list):
            raise malformed(what, "commitments is not a list")
        region = str(scope).removeprefix("regions/")
        for raw in listed:
            if not isinstance(raw, dict):
                raise malformed(what, "a commitment is not an object")
            vcpus, memory = _resources(raw)
            found.append(
                CommitmentData(
                    service=SERVICE,
                    provider_commitment_id=str(raw.get("id") or raw.get("name") or ""),
                    region=region,
                    resource_type=str(raw.get("type") or ""),
                    engine="",
                    count=vcpus,
                    term=PLANS.get(str(raw.get("plan"))),
                    payment=Payment.no_upfront.value,
                    start=_aware(raw.get("startTimestamp")),
                    end=_aware(raw.get("endTimestamp")),
                    state=_STATES.get(
                        str(raw.get("status")), str(raw.get("status") or "unknown").lower()
                    ),
                    upfront_cost=Decimal(0),
                    recurring_monthly_cost=Decimal(0),
                    currency="USD",
                    utilization_percent=None,
                    details={
                        "name": raw.get("name"),
                        "plan": raw.get("plan"),
                        "category": raw.get("category"),
                        "memory_mb": str(memory),
                        "auto_renew": raw.get("autoRenew"),
                    },
                )
            )
    return found
