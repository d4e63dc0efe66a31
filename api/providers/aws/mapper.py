"""AWS payloads → provider-neutral recommendations and commitments (pure functions).

Cost Explorer sends every number as a string: they become ``Decimal`` here, and anything
that is not a number (or a structure that is not the API's) raises a ProviderError saying
the answer could not be read - never a crash, never a silently dropped item.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from api.enums import Payment
from api.providers.base import CommitmentData, RecommendationData
from api.providers.retry import malformed

# CE ``Service`` values per CUDly service (CLOUD_APIS: not in the model, from the docs).
RI_SERVICES: dict[str, str] = {
    "ec2": "Amazon Elastic Compute Cloud - Compute",
    "rds": "Amazon Relational Database Service",
    "elasticache": "Amazon ElastiCache",
    "opensearch": "Amazon OpenSearch Service",
    "redshift": "Amazon Redshift",
    "memorydb": "Amazon MemoryDB Service",
}
SAVINGS_PLANS = "savings-plans"
SP_TYPES = ("COMPUTE_SP", "EC2_INSTANCE_SP")
CE_PAYMENT = {
    Payment.no_upfront: "NO_UPFRONT",
    Payment.partial_upfront: "PARTIAL_UPFRONT",
    Payment.all_upfront: "ALL_UPFRONT",
}
CE_TERM = {1: "ONE_YEAR", 3: "THREE_YEARS"}
HOURS_PER_MONTH = Decimal("730")
_OFFERING_PAYMENT = {
    "no upfront": Payment.no_upfront.value,
    "partial upfront": Payment.partial_upfront.value,
    "all upfront": Payment.all_upfront.value,
    "no_upfront": Payment.no_upfront.value,
    "partial_upfront": Payment.partial_upfront.value,
    "all_upfront": Payment.all_upfront.value,
}
REGION_CODE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")

# Cost Explorer may name a region by its location ("US East (N. Virginia)").
REGION_NAMES: dict[str, str] = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Africa (Cape Town)": "af-south-1",
    "Asia Pacific (Hong Kong)": "ap-east-1",
    "Asia Pacific (Hyderabad)": "ap-south-2",
    "Asia Pacific (Jakarta)": "ap-southeast-3",
    "Asia Pacific (Malaysia)": "ap-southeast-5",
    "Asia Pacific (Melbourne)": "ap-southeast-4",
    "Asia Pacific (Mumbai)": "ap-south-1",
    "Asia Pacific (Osaka)": "ap-northeast-3",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Canada (Central)": "ca-central-1",
    "Canada West (Calgary)": "ca-west-1",
    "EU (Frankfurt)": "eu-central-1",
    "Europe (Frankfurt)": "eu-central-1",
    "EU (Ireland)": "eu-west-1",
    "Europe (Ireland)": "eu-west-1",
    "EU (London)": "eu-west-2",
    "Europe (London)": "eu-west-2",
    "EU (Milan)": "eu-south-1",
    "Europe (Milan)": "eu-south-1",
    "EU (Paris)": "eu-west-3",
    "Europe (Paris)": "eu-west-3",
    "EU (Spain)": "eu-south-2",
    "Europe (Spain)": "eu-south-2",
    "EU (Stockholm)": "eu-north-1",
    "Europe (Stockholm)": "eu-north-1",
    "EU (Zurich)": "eu-central-2",
    "Europe (Zurich)": "eu-central-2",
    "Israel (Tel Aviv)": "il-central-1",
    "Middle East (Bahrain)": "me-south-1",
    "Middle East (UAE)": "me-central-1",
    "South America (Sao Paulo)": "sa-east-1",
    "AWS GovCloud (US-East)": "us-gov-east-1",
    "AWS GovCloud (US-West)": "us-gov-west-1",
    "AWS GovCloud (US)": "us-gov-west-1",
}


def region_code(value: Any) -> str:
    """A region code from a code or a Cost Explorer location name ("" when absent)."""
    text = str(value or "").strip()
    if not text or REGION_CODE.match(text):
        return text
    return REGION_NAMES.get(text, text)


def money(value: Any, what: str, field: str) -> Decimal:
    """A CE number (string, int or float) as Decimal; absent → 0; anything else malformed."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise malformed(what, f"{field} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise malformed(what, f"{field} is not a number") from None
    if not number.is_finite():
        raise malformed(what, f"{field} is not a number")
    return number


def _dict(value: Any, what: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise malformed(what, f"{field} is not an object")
    return value


def _list(value: Any, what: str, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise malformed(what, f"{field} is not a list")
    return value


def _ri_identity(
    service: str, details: dict[str, Any], offering_class: str, what: str
) -> tuple[str, str, str, str, dict[str, Any]]:
    """(region, resource_type, engine, variant, kept identifiers) of one CE detail."""
    if service == "ec2":
        d = _dict(details.get("EC2InstanceDetails"), what, "EC2InstanceDetails")
        platform, tenancy = str(d.get("Platform", "")), str(d.get("Tenancy", ""))
        variant = "/".join((platform, tenancy, offering_class))
        return region_code(d.get("Region")), str(d.get("InstanceType", "")), "", variant, d
    if service == "rds":
        d = _dict(details.get("RDSInstanceDetails"), what, "RDSInstanceDetails")
        engine = str(d.get("DatabaseEngine", ""))
        if d.get("DatabaseEdition"):
            engine = f"{engine} {d['DatabaseEdition']}"
        variant = str(d.get("DeploymentOption", ""))
        return region_code(d.get("Region")), str(d.get("InstanceType", "")), engine, variant, d
    if service == "elasticache":
        d = _dict(details.get("ElastiCacheInstanceDetails"), what, "ElastiCacheInstanceDetails")
        return (
            region_code(d.get("Region")),
            str(d.get("NodeType", "")),
            str(d.get("ProductDescription", "")),
            "",
            d,
        )
    if service == "opensearch":
        d = _dict(details.get("ESInstanceDetails"), what, "ESInstanceDetails")
        size, cls = str(d.get("InstanceSize", "")), str(d.get("InstanceClass", ""))
        resource = f"{cls}.{size}" if cls and not size.startswith(cls) else size
        return region_code(d.get("Region")), resource, "", "", d
    key = "RedshiftInstanceDetails" if service == "redshift" else "MemoryDBInstanceDetails"
    d = _dict(details.get(key), what, key)
    return region_code(d.get("Region")), str(d.get("NodeType", "")), "", "", d


EC2_TENANCY = {"Shared": "default", "Dedicated": "dedicated", "Host": "host"}


def _purchase_keys(service: str, ids: dict[str, Any]) -> dict[str, Any]:
    """The offering attributes a purchase must match: EC2 platform and tenancy, RDS Multi-AZ."""
    if service == "ec2":
        tenancy = str(ids.get("Tenancy") or "Shared")
        # CE says Shared/Dedicated/Host; the EC2 offerings filter wants default/dedicated/host.
        return {"platform": ids.get("Platform"), "tenancy": EC2_TENANCY.get(tenancy, tenancy)}
    if service == "rds":
        return {"multi_az": str(ids.get("DeploymentOption", "")).lower().startswith("multi-az")}
    return {}


def ri_recommendations(
    service: str, page: dict[str, Any], term: int, payment: Payment, offering_class: str
) -> list[RecommendationData]:
    """One GetReservationPurchaseRecommendation page → recommendations."""
    what = f"Cost Explorer reservation recommendations ({service})"
    found: list[RecommendationData] = []
    for group in _list(page.get("Recommendations"), what, "Recommendations"):
        group = _dict(group, what, "Recommendations[]")
        for raw in _list(group.get("RecommendationDetails"), what, "RecommendationDetails"):
            raw = _dict(raw, what, "RecommendationDetails[]")
            details = _dict(raw.get("InstanceDetails"), what, "InstanceDetails")
            region, resource, engine, variant, ids = _ri_identity(
                service, details, offering_class, what
            )
            found.append(
                RecommendationData(
                    service=service,
                    region=region,
                    resource_type=resource,
                    engine=engine,
                    term=term,
                    payment=payment.value,
                    variant=variant,
                    count=money(raw.get("RecommendedNumberOfInstancesToPurchase"), what, "count"),
                    upfront_cost=money(raw.get("UpfrontCost"), what, "UpfrontCost"),
                    recurring_monthly_cost=money(
                        raw.get("RecurringStandardMonthlyCost"),
                        what,
                        "RecurringStandardMonthlyCost",
                    ),
                    on_demand_monthly_cost=money(
                        raw.get("EstimatedMonthlyOnDemandCost"),
                        what,
                        "EstimatedMonthlyOnDemandCost",
                    ),
                    estimated_monthly_savings=money(
                        raw.get("EstimatedMonthlySavingsAmount"),
                        what,
                        "EstimatedMonthlySavingsAmount",
                    ),
                    savings_percent=money(
                        raw.get("EstimatedMonthlySavingsPercentage"),
                        what,
                        "EstimatedMonthlySavingsPercentage",
                    ),
                    currency=str(raw.get("CurrencyCode") or "USD"),
                    details={
                        "instance_details": {k: v for k, v in ids.items() if _scalar(v)},
                        "offering_class": offering_class if service == "ec2" else None,
                        # What the purchaser needs to find the exact offering (SPEC §6).
                        **_purchase_keys(service, ids),
                        "account_id": raw.get("AccountId"),
                        "break_even_months": raw.get("EstimatedBreakEvenInMonths"),
                        "average_utilization": raw.get("AverageUtilization"),
                        "recommendation_id": (page.get("Metadata") or {}).get("RecommendationId"),
                    },
                )
            )
    return found


def sp_recommendations(
    sp_type: str, page: dict[str, Any], term: int, payment: Payment
) -> list[RecommendationData]:
    """One GetSavingsPlansPurchaseRecommendation page → recommendations.

    ``count`` is the hourly commitment ($/h); monthly cost = hourly × 730.
    """
    what = f"Cost Explorer Savings Plans recommendations ({sp_type})"
    body = page.get("SavingsPlansPurchaseRecommendation")
    if body is None:
        return []
    body = _dict(body, what, "SavingsPlansPurchaseRecommendation")
    found: list[RecommendationData] = []
    details_list = body.get("SavingsPlansPurchaseRecommendationDetails")
    for raw in _list(details_list, what, "SavingsPlansPurchaseRecommendationDetails"):
        raw = _dict(raw, what, "SavingsPlansPurchaseRecommendationDetails[]")
        sp = _dict(raw.get("SavingsPlansDetails") or {}, what, "SavingsPlansDetails")
        family = str(sp.get("InstanceFamily") or "")
        hourly = money(raw.get("HourlyCommitmentToPurchase"), what, "HourlyCommitmentToPurchase")
        upfront = money(raw.get("UpfrontCost"), what, "UpfrontCost")
        savings = money(
            raw.get("EstimatedMonthlySavingsAmount"), what, "EstimatedMonthlySavingsAmount"
        )
        recurring = hourly * HOURS_PER_MONTH
        if payment is Payment.all_upfront:
            recurring = Decimal(0)
        elif payment is Payment.partial_upfront:
            recurring = recurring / 2
        amortised = upfront / (term * 12) if upfront else Decimal(0)
        found.append(
            RecommendationData(
                service=SAVINGS_PLANS,
                region=region_code(sp.get("Region")),
                resource_type=family or ("compute" if sp_type == "COMPUTE_SP" else ""),
                engine="",
                term=term,
                payment=payment.value,
                variant=f"{sp_type}/{family}" if family else sp_type,
                count=hourly,
                upfront_cost=upfront,
                recurring_monthly_cost=recurring,
                on_demand_monthly_cost=recurring + amortised + savings,
                estimated_monthly_savings=savings,
                savings_percent=money(
                    raw.get("EstimatedSavingsPercentage"), what, "EstimatedSavingsPercentage"
                ),
                currency=str(raw.get("CurrencyCode") or "USD"),
                details={
                    "savings_plans_type": sp_type,
                    "offering_id": sp.get("OfferingId"),
                    "hourly_commitment": str(hourly),
                    "recommendation_detail_id": raw.get("RecommendationDetailId"),
                    "account_id": raw.get("AccountId"),
                    "estimated_sp_cost": raw.get("EstimatedSPCost"),
                    "estimated_on_demand_cost": raw.get("EstimatedOnDemandCost"),
                },
            )
        )
    return found


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


# --- inventory -------------------------------------------------------------------------------


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _term_years(duration_s: Any) -> int | None:
    try:
        seconds = int(duration_s)
    except (TypeError, ValueError):
        return None
    return max(1, round(seconds / 31_536_000)) if seconds else None


def _offering_payment(value: Any) -> str | None:
    return _OFFERING_PAYMENT.get(str(value or "").strip().lower())


def _recurring_monthly(charges: Any, what: str) -> Decimal:
    """Hourly recurring charges (EC2 ``Amount``, RDS ``RecurringChargeAmount``) per month."""
    total = Decimal(0)
    for charge in _list(charges, what, "RecurringCharges"):
        charge = _dict(charge, what, "RecurringCharges[]")
        amount = money(charge.get("Amount", charge.get("RecurringChargeAmount")), what, "Amount")
        frequency = str(charge.get("Frequency", charge.get("RecurringChargeFrequency", "Hourly")))
        total += amount * HOURS_PER_MONTH if frequency.lower() == "hourly" else amount
    return total


# (id field, type field, count field, engine field, start field) per inventory part
_PARTS: dict[str, tuple[str, str, str, str | None, str]] = {
    "ec2": ("ReservedInstancesId", "InstanceType", "InstanceCount", None, "Start"),
    "rds": (
        "ReservedDBInstanceId",
        "DBInstanceClass",
        "DBInstanceCount",
        "ProductDescription",
        "StartTime",
    ),
    "elasticache": (
        "ReservedCacheNodeId",
        "CacheNodeType",
        "CacheNodeCount",
        "ProductDescription",
        "StartTime",
    ),
    "redshift": ("ReservedNodeId", "NodeType", "NodeCount", None, "StartTime"),
    "memorydb": ("ReservationId", "NodeType", "NodeCount", None, "StartTime"),
    "opensearch": ("ReservedInstanceId", "InstanceType", "InstanceCount", None, "StartTime"),
}


def reserved_commitment(part: str, raw: Any, region: str) -> CommitmentData:
    """One reserved instance / node of an inventory call (botocore member names)."""
    what = f"the {part} reserved inventory"
    raw = _dict(raw, what, "item")
    id_field, type_field, count_field, engine_field, start_field = _PARTS[part]
    start = _aware(raw.get(start_field))
    term = _term_years(raw.get("Duration"))
    end = _aware(raw.get("End"))
    if end is None and start is not None and raw.get("Duration"):
        end = start + timedelta(seconds=int(raw["Duration"]))
    payment = _offering_payment(raw.get("OfferingType") or raw.get("PaymentOption"))
    details: dict[str, Any] = {
        k: raw[k]
        for k in (
            "ReservationName",
            "InstanceTenancy",
            "OfferingClass",
            "OfferingType",
            "Scope",
            "AvailabilityZone",
            "ProductDescription",
            "MultiAZ",
            "ReservedDBInstancesOfferingId",
            "ReservedCacheNodesOfferingId",
            "ReservedNodeOfferingId",
            "ReservedNodesOfferingId",
            "ReservedInstanceOfferingId",
        )
        if k in raw and _scalar(raw[k])
    }
    usage = money(raw.get("UsagePrice"), what, "UsagePrice")
    return CommitmentData(
        service=part,
        provider_commitment_id=str(raw.get(id_field) or ""),
        region=region,
        resource_type=str(raw.get(type_field) or ""),
        engine=str(raw.get(engine_field) or "") if engine_field else "",
        count=money(raw.get(count_field), what, count_field),
        term=term,
        payment=payment,
        start=start,
        end=end,
        state=str(raw.get("State") or "unknown").lower(),
        upfront_cost=money(raw.get("FixedPrice"), what, "FixedPrice"),
        recurring_monthly_cost=_recurring_monthly(raw.get("RecurringCharges"), what)
        + usage * HOURS_PER_MONTH,
        currency=str(raw.get("CurrencyCode") or "USD"),
        utilization_percent=None,
        details=details,
    )


def savings_plan_commitment(raw: Any) -> CommitmentData:
    """One DescribeSavingsPlans item (camelCase, numbers and times as strings)."""
    what = "the Savings Plans inventory"
    raw = _dict(raw, what, "savingsPlans[]")
    hourly = money(raw.get("commitment"), what, "commitment")
    recurring = money(raw.get("recurringPaymentAmount"), what, "recurringPaymentAmount")
    return CommitmentData(
        service=SAVINGS_PLANS,
        provider_commitment_id=str(raw.get("savingsPlanId") or ""),
        region=str(raw.get("region") or ""),
        resource_type=str(raw.get("ec2InstanceFamily") or raw.get("savingsPlanType") or ""),
        engine="",
        count=hourly,
        term=_term_years(raw.get("termDurationInSeconds")),
        payment=_offering_payment(raw.get("paymentOption")),
        start=_aware(raw.get("start")),
        end=_aware(raw.get("end")),
        state=str(raw.get("state") or "unknown").lower(),
        upfront_cost=money(raw.get("upfrontPaymentAmount"), what, "upfrontPaymentAmount"),
        recurring_monthly_cost=recurring * HOURS_PER_MONTH,
        currency=str(raw.get("currency") or "USD"),
        utilization_percent=None,
        details={
            "savings_plan_type": raw.get("savingsPlanType"),
            "offering_id": raw.get("offeringId"),
            "savings_plan_arn": raw.get("savingsPlanArn"),
            "returnable_until": raw.get("returnableUntil"),
        },
    )
