"""Azure payloads → provider-neutral recommendations and commitments (pure functions).

Consumption ``reservationRecommendations`` come in two kinds: ``legacy`` (numbers, a
``lookBackPeriod`` such as ``Last30Days``, ``sku`` at the top) and ``modern`` (MCA: costs
as ``{currency, value}``, ``lookBackPeriod`` in days, ``skuName``). Their costs cover the
look-back period; they are scaled to a 30-day month here. Azure has no partial upfront: a
``partial-upfront`` config collects the monthly plan (``payment`` "no-upfront").
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from api.enums import Payment
from api.providers.base import CommitmentData, RecommendationData
from api.providers.retry import malformed

SERVICE_RESOURCE_TYPES: dict[str, str] = {
    "vm": "VirtualMachines",
    "sql": "SQLDatabases",
    "cosmosdb": "CosmosDB",
    "redis": "RedisCache",
}
_RESERVED_TYPES = {
    "virtualmachines": "vm",
    "sqldatabases": "sql",
    "cosmosdb": "cosmosdb",
    "rediscache": "redis",
}
TERMS = {"P1Y": 1, "P3Y": 3, "P5Y": 5}
_LOOKBACK_DAYS = {"Last7Days": 7, "Last30Days": 30, "Last60Days": 60}
_STATES = {
    "succeeded": "active",
    "expired": "expired",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "creating": "pending",
    "pending": "pending",
    "failed": "failed",
}
WHAT = "Azure reservation recommendations"


def payment_for(payment: Payment) -> Payment:
    """The payment Azure can do for a configured one (no partial upfront)."""
    return Payment.all_upfront if payment is Payment.all_upfront else Payment.no_upfront


def _number(value: Any, field: str, what: str = WHAT) -> tuple[Decimal, str | None]:
    currency: str | None = None
    if isinstance(value, dict):  # modern: {"currency": "EUR", "value": "12.3"}
        currency = str(value.get("currency")) if value.get("currency") else None
        value = value.get("value")
    if value is None or value == "":
        return Decimal(0), currency
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise malformed(what, f"{field} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise malformed(what, f"{field} is not a number") from None
    if not number.is_finite():
        raise malformed(what, f"{field} is not a number")
    return number, currency


def _lookback_days(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        if value in _LOOKBACK_DAYS:
            return _LOOKBACK_DAYS[value]
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 30


def recommendations(
    service: str, page: dict[str, Any], term: int, payment: Payment
) -> list[RecommendationData]:
    """One page of reservationRecommendations → the items of the configured term."""
    values = page.get("value")
    if values is None:
        return []
    if not isinstance(values, list):
        raise malformed(WHAT, "value is not a list")
    found: list[RecommendationData] = []
    plan = payment_for(payment)
    for item in values:
        if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
            raise malformed(WHAT, "an item has no properties")
        props: dict[str, Any] = item["properties"]
        item_term = TERMS.get(str(props.get("term")))
        if item_term is None:
            raise malformed(WHAT, "term is not P1Y/P3Y")
        if item_term != term:
            continue  # P1Y and P3Y come mixed: keep the configured term
        scale = Decimal(30) / Decimal(_lookback_days(props.get("lookBackPeriod")))
        on_demand, c1 = _number(
            props.get("costWithNoReservedInstances"), "costWithNoReservedInstances"
        )
        with_ri, c2 = _number(
            props.get("totalCostWithReservedInstances"), "totalCostWithReservedInstances"
        )
        savings, c3 = _number(props.get("netSavings"), "netSavings")
        quantity, _ = _number(props.get("recommendedQuantity"), "recommendedQuantity")
        on_demand, with_ri, savings = on_demand * scale, with_ri * scale, savings * scale
        sku = item.get("sku")
        if isinstance(sku, dict):
            sku = sku.get("name")
        sku = str(props.get("skuName") or sku or props.get("normalizedSize") or "")
        region = str(props.get("location") or item.get("location") or "").lower()
        upfront = Decimal(0)
        recurring = with_ri
        if plan is Payment.all_upfront:
            upfront, recurring = with_ri * 12 * item_term, Decimal(0)
        percent = (savings * 100 / on_demand).quantize(Decimal("0.01")) if on_demand else Decimal(0)
        found.append(
            RecommendationData(
                service=service,
                region=region,
                resource_type=sku,
                engine="",
                term=item_term,
                payment=plan.value,
                variant=str(props.get("scope") or ""),
                count=quantity,
                upfront_cost=upfront,
                recurring_monthly_cost=recurring,
                on_demand_monthly_cost=on_demand,
                estimated_monthly_savings=savings,
                savings_percent=percent,
                currency=c1 or c2 or c3 or "USD",
                details={
                    "kind": item.get("kind", "legacy"),
                    "recommendation_id": item.get("id"),
                    "resource_type": props.get("resourceType"),
                    "sku": sku,
                    "billing_plan": "Upfront" if plan is Payment.all_upfront else "Monthly",
                    "instance_flexibility_group": props.get("instanceFlexibilityGroup"),
                    "normalized_size": props.get("normalizedSize"),
                    "meter_id": props.get("meterId"),
                    "look_back_period": props.get("lookBackPeriod"),
                    "subscription_id": props.get("subscriptionId"),
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
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _utilization(props: dict[str, Any]) -> Decimal | None:
    aggregates = (props.get("utilization") or {}).get("aggregates") or []
    if not isinstance(aggregates, list) or not aggregates:
        return None
    # The longest grain is the steadiest figure.
    best = max(
        (a for a in aggregates if isinstance(a, dict)),
        key=lambda a: float(a.get("grain") or 0),
        default=None,
    )
    if best is None or best.get("value") is None:
        return None
    number, _ = _number(best.get("value"), "utilization", "the Azure reservations inventory")
    return number


def applies_to(item: dict[str, Any], subscription: str) -> bool:
    """Whether a reservation is scoped to ``subscription`` (shared ones are not counted)."""
    props = item.get("properties") or {}
    scopes = props.get("appliedScopes") or []
    prefix = f"/subscriptions/{subscription}".lower()
    return isinstance(scopes, list) and any(
        isinstance(s, str) and (s.lower() == prefix or s.lower().startswith(prefix + "/"))
        for s in scopes
    )


def reservation(item: Any) -> CommitmentData:
    """One Microsoft.Capacity reservation."""
    what = "the Azure reservations inventory"
    if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
        raise malformed(what, "an item has no properties")
    props: dict[str, Any] = item["properties"]
    sku = item.get("sku")
    quantity, _ = _number(props.get("quantity"), "quantity", what)
    plan = str(props.get("billingPlan") or "")
    reserved_type = str(props.get("reservedResourceType") or "")
    return CommitmentData(
        service=_RESERVED_TYPES.get(reserved_type.lower(), reserved_type.lower()),
        provider_commitment_id=str(item.get("id") or ""),
        region=str(item.get("location") or "").lower(),
        resource_type=str(sku.get("name") if isinstance(sku, dict) else sku or ""),
        engine="",
        count=quantity,
        term=TERMS.get(str(props.get("term"))),
        payment={"upfront": "all-upfront", "monthly": "no-upfront"}.get(plan.lower()),
        start=_aware(props.get("effectiveDateTime")),
        end=_aware(props.get("expiryDateTime")),
        state=_STATES.get(
            str(props.get("provisioningState") or "").lower(),
            str(props.get("provisioningState") or "unknown").lower(),
        ),
        upfront_cost=Decimal(0),
        recurring_monthly_cost=Decimal(0),
        currency="USD",
        utilization_percent=_utilization(props),
        details={
            "display_name": props.get("displayName"),
            "reserved_resource_type": reserved_type,
            "billing_plan": plan or None,
            "applied_scope_type": props.get("appliedScopeType"),
            "name": item.get("name"),
        },
    )
