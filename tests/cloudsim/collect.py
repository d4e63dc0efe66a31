"""The clouds' collection APIs for the simulator: recommendations and commitment inventories.

moto has no Cost Explorer recommendations, no Savings Plans and no ``Describe Reserved*``
calls for EC2, so every AWS call a collector makes (except STS, which stays in moto) is
served here, over the real wire protocols (json 1.1, query, ec2, rest-json; botocore's own
service models drive the XML shapes). Azure Consumption / Capacity and Google
Recommender / Compute are served next to the simulator's ARM and Google endpoints.

Point the product at it with ``collect_env(sim)`` (the ``AWS_ENDPOINT_URL_<SERVICE>``
variables) plus ``collect_settings(sim)`` (Azure/GCP endpoints and the CA bundle).

Arranging state — ``sim.state.collect`` is a :class:`CollectSim` (thread-safe)::

    c = sim.state.collect
    c.aws_ri(account_id, "ec2", aws_ec2_detail("m5.large", count=2), term=1)
    c.aws_sp(account_id, aws_sp_detail("COMPUTE_SP", hourly="1.5"), sp_type="COMPUTE_SP")
    c.aws_inventory(account_id, "ec2", {"ReservedInstancesId": "ri-1", ...})  # botocore names
    c.azure_recommendation(subscription_id, azure_legacy_rec(...) | azure_modern_rec(...))
    c.azure_reservation(subscription_id, azure_reservation(...))
    c.gcp_regions(project, ["us-central1", "europe-west1"])
    c.gcp_recommendation(project, "us-central1", gcp_commitment_rec(...))
    c.gcp_commitment(project, "us-central1", gcp_commitment(...))

Faults, per account key (AWS account id, Azure subscription id, GCP project id)::

    c.fault(key, "bad_credentials")         # the signer/token is refused (cloud's own code)
    c.fault(key, "timeout", delay_s=30)     # answers only after delay_s
    c.fault(key, "throttle", count=3)       # 3 throttling answers, then fine
    c.fault(key, "malformed")               # 200 with a body that is not the API's shape
    c.fault(key, "no_data")                 # CE DataUnavailableException (new account)
    c.deny_inventory(key, "rds")            # that inventory part answers access denied
    # optional ``operation=`` glob limits a fault to some calls, e.g. "GetSavingsPlans*"

Observing: ``c.calls`` (every :class:`CollectCall`: provider, account key, the identity
that signed it — AWS access key id and its account, the Azure client id, the GCP
principal — operation and status), ``c.signers(key)``, ``c.peak_in_flight`` (the most
collection calls in flight at once; ``c.reset_peak()``), ``c.peak_by_account`` (the most
calls in flight at once per account: above 1, two sweeps of it overlapped), ``c.latency_s`` (added to every
collection call), ``c.page_size`` (items per page, small by default so paging is used),
``c.next_link_base`` (where ARM ``nextLink``s point; default the simulator).

PLANS (purchase endpoints): AWS operations all arrive at ``POST /`` (or a rest-json path);
register extra ones with ``register_aws_operation(signing_name, operation, handler)`` —
``handler(ctx: AwsContext) -> Response`` — instead of adding another ``/`` route.

The AWS caller's account is found from its access key id: ``CollectSim.aws_key(akid,
account)`` registrations first, then moto's own records (IAM user keys and assumed-role
sessions, same process). An unknown key is refused like AWS refuses it. Keys acting in a
chosen account: AssumeRole through moto into any role ARN of that account (moto needs no
such role) - ``tests.providers.collect_helpers.aws_temporary_keys(aws, account_id)``;
moto's ``GetCallerIdentity`` then answers that account, so the collector's identity check
passes. STS itself is moto's: its calls are not in ``calls`` nor in ``peak_in_flight``
(``tests.providers.sts_proxy`` records them).
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from .app import SimState
    from .server import SimServer

CE_SERVICES = {
    "ec2": "Amazon Elastic Compute Cloud - Compute",
    "rds": "Amazon Relational Database Service",
    "elasticache": "Amazon ElastiCache",
    "opensearch": "Amazon OpenSearch Service",
    "redshift": "Amazon Redshift",
    "memorydb": "Amazon MemoryDB Service",
}
GCP_COMMITMENT_RECOMMENDER = "google.compute.commitment.UsageCommitmentRecommender"
_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/")
_INVENTORY_OPERATIONS = {
    ("ec2", "DescribeReservedInstances"): "ec2",
    ("rds", "DescribeReservedDBInstances"): "rds",
    ("elasticache", "DescribeReservedCacheNodes"): "elasticache",
    ("redshift", "DescribeReservedNodes"): "redshift",
    ("memorydb", "DescribeReservedNodes"): "memorydb",
    ("es", "DescribeReservedInstances"): "opensearch",
    ("savingsplans", "DescribeSavingsPlans"): "savingsplans",
}
# botocore service names behind the signing names (for the output shapes).
_BOTOCORE_NAMES = {"es": "opensearch"}


@dataclass
class CollectCall:
    """One collection call as the simulator saw it (never a secret)."""

    provider: str
    account: str | None  # AWS account id / subscription id / project id
    identity: str | None  # AWS access key id, Azure client id, GCP principal
    operation: str
    status: int = 0
    region: str | None = None


@dataclass
class Fault:
    kind: str  # bad_credentials | timeout | throttle | malformed
    remaining: int | None  # None = every matching call
    delay_s: float = 30.0
    operation: str = "*"


@dataclass
class AwsContext:
    """What an AWS operation handler gets."""

    request: Request
    sim: CollectSim
    signing_name: str
    operation: str
    protocol: str  # json | query | ec2 | rest-json
    params: dict[str, Any]  # JSON body, or the form fields
    access_key_id: str
    account: str
    region: str


AwsHandler = Callable[[AwsContext], Awaitable[Response]]
_AWS_OPERATIONS: dict[tuple[str, str], AwsHandler] = {}


def register_aws_operation(signing_name: str, operation: str, handler: AwsHandler) -> None:
    """Serve ``operation`` of the service signed as ``signing_name`` (e.g. "ec2")."""
    _AWS_OPERATIONS[(signing_name, operation)] = handler


class CollectSim:
    """Recommendations, inventories, faults and the call record. Every method takes the lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.ri: dict[str, list[dict[str, Any]]] = {}
            self.sp: dict[str, list[dict[str, Any]]] = {}
            self.inventory: dict[tuple[str, str], list[dict[str, Any]]] = {}
            self.aws_keys: dict[str, str] = {}
            self.azure_recs: dict[str, list[dict[str, Any]]] = {}
            self.azure_reservations: dict[str, list[dict[str, Any]]] = {}
            self.regions: dict[str, list[str]] = {}
            self.gcp_recs: dict[tuple[str, str], list[dict[str, Any]]] = {}
            self.gcp_commitments: dict[tuple[str, str], list[dict[str, Any]]] = {}
            self.faults: dict[str, list[Fault]] = {}
            self.denied: set[tuple[str, str]] = set()
            self.calls: list[CollectCall] = []
            self.page_size = 2
            self.latency_s = 0.0
            # Base URL of ARM ``nextLink``s (None: the simulator itself); tests of the rule
            # that a nextLink off the management endpoint is never followed set another.
            self.next_link_base: str | None = None
            self.in_flight = 0
            self.peak_in_flight = 0
            # Per account key: calls in flight now and at most. A sweep's calls run one after
            # another, so a peak above 1 means two sweeps of that account overlapped.
            self.in_flight_by_account: dict[str, int] = {}
            self.peak_by_account: dict[str, int] = {}

    # --- arranging -----------------------------------------------------------------------
    def aws_key(self, access_key_id: str, account: str) -> None:
        """Treat ``access_key_id`` as a key of ``account`` (without going through moto)."""
        with self._lock:
            self.aws_keys[access_key_id] = account

    def aws_ri(
        self,
        account: str,
        service: str,
        detail: dict[str, Any],
        *,
        term: int = 3,
        payment: str = "NO_UPFRONT",
        offering_class: str = "STANDARD",
    ) -> None:
        """A CE reservation recommendation detail; ``service`` is ec2/rds/... (CE_SERVICES)."""
        with self._lock:
            self.ri.setdefault(account, []).append(
                {
                    "service": CE_SERVICES[service],
                    "term": "ONE_YEAR" if term == 1 else "THREE_YEARS",
                    "payment": payment,
                    "offering_class": offering_class,
                    "detail": detail,
                }
            )

    def aws_sp(
        self,
        account: str,
        detail: dict[str, Any],
        *,
        sp_type: str = "COMPUTE_SP",
        term: int = 3,
        payment: str = "NO_UPFRONT",
    ) -> None:
        with self._lock:
            self.sp.setdefault(account, []).append(
                {
                    "type": sp_type,
                    "term": "ONE_YEAR" if term == 1 else "THREE_YEARS",
                    "payment": payment,
                    "detail": detail,
                }
            )

    def aws_inventory(self, account: str, part: str, *items: dict[str, Any]) -> None:
        """Inventory items (botocore member names) of ``part``: ec2, rds, elasticache,
        redshift, memorydb, opensearch, savingsplans."""
        with self._lock:
            self.inventory.setdefault((account, part), []).extend(items)

    def azure_recommendation(self, subscription: str, *items: dict[str, Any]) -> None:
        with self._lock:
            self.azure_recs.setdefault(subscription, []).extend(items)

    def azure_reservation(self, subscription: str, *items: dict[str, Any]) -> None:
        with self._lock:
            self.azure_reservations.setdefault(subscription, []).extend(items)

    def gcp_regions(self, project: str, regions: list[str]) -> None:
        with self._lock:
            self.regions[project] = list(regions)

    def gcp_recommendation(self, project: str, region: str, *items: dict[str, Any]) -> None:
        with self._lock:
            self.gcp_recs.setdefault((project, region), []).extend(items)

    def gcp_commitment(self, project: str, region: str, *items: dict[str, Any]) -> None:
        with self._lock:
            self.gcp_commitments.setdefault((project, region), []).extend(items)

    def fault(
        self,
        key: str,
        kind: str,
        *,
        count: int | None = None,
        delay_s: float = 30.0,
        operation: str = "*",
    ) -> None:
        """Make ``key``'s calls fail (see the module docstring). ``throttle`` defaults to 2."""
        if kind not in {"bad_credentials", "timeout", "throttle", "malformed", "no_data"}:
            raise ValueError(kind)
        if kind == "throttle" and count is None:
            count = 2
        with self._lock:
            self.faults.setdefault(key, []).append(Fault(kind, count, delay_s, operation))

    def deny_inventory(self, key: str, part: str) -> None:
        """``part`` (an inventory name above, or ``azure``/``gcp``) answers access denied."""
        with self._lock:
            self.denied.add((key, part))

    # --- observing -----------------------------------------------------------------------
    def signers(self, key: str) -> set[str | None]:
        """Every identity that signed a call for ``key``."""
        with self._lock:
            return {c.identity for c in self.calls if c.account == key}

    def operations(self, key: str | None = None) -> list[str]:
        with self._lock:
            return [c.operation for c in self.calls if key is None or c.account == key]

    def reset_peak(self) -> None:
        with self._lock:
            self.peak_in_flight = self.in_flight

    # --- internals -----------------------------------------------------------------------
    def _take_fault(self, key: str | None, operation: str) -> Fault | None:
        if key is None:
            return None
        with self._lock:
            for fault in self.faults.get(key, []):
                if fault.remaining == 0 or not fnmatch.fnmatchcase(operation, fault.operation):
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None

    def _enter(self, key: str | None = None) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if key is not None:
                now = self.in_flight_by_account.get(key, 0) + 1
                self.in_flight_by_account[key] = now
                self.peak_by_account[key] = max(self.peak_by_account.get(key, 0), now)

    def _leave(self, key: str | None = None) -> None:
        with self._lock:
            self.in_flight -= 1
            if key is not None:
                self.in_flight_by_account[key] -= 1

    def _record(self, call: CollectCall) -> CollectCall:
        with self._lock:
            self.calls.append(call)
        return call


# --- payload builders (real shapes; numbers as the clouds send them) ---------------------


def aws_ri_money(
    *,
    count: str = "1",
    upfront: str = "0",
    recurring: str = "50.0",
    on_demand: str = "80.0",
    savings: str = "30.0",
    savings_pct: str = "37.5",
    currency: str = "USD",
) -> dict[str, Any]:
    return {
        "RecommendedNumberOfInstancesToPurchase": count,
        "RecommendedNormalizedUnitsToPurchase": count,
        "UpfrontCost": upfront,
        "RecurringStandardMonthlyCost": recurring,
        "EstimatedMonthlyOnDemandCost": on_demand,
        "EstimatedMonthlySavingsAmount": savings,
        "EstimatedMonthlySavingsPercentage": savings_pct,
        "EstimatedBreakEvenInMonths": "0",
        "AverageUtilization": "90.0",
        "CurrencyCode": currency,
    }


def aws_ec2_detail(
    instance_type: str = "m5.large",
    *,
    region: str = "US East (N. Virginia)",
    platform: str = "Linux/UNIX",
    tenancy: str = "Shared",
    account: str = "",
    **money: str,
) -> dict[str, Any]:
    return {
        "AccountId": account,
        "InstanceDetails": {
            "EC2InstanceDetails": {
                "Family": instance_type.split(".")[0],
                "InstanceType": instance_type,
                "Region": region,
                "Platform": platform,
                "Tenancy": tenancy,
                "CurrentGeneration": True,
                "SizeFlexEligible": True,
            }
        },
        **aws_ri_money(**money),
    }


def aws_rds_detail(
    instance_type: str = "db.r5.large",
    *,
    region: str = "us-east-1",
    engine: str = "PostgreSQL",
    deployment: str = "Single-AZ",
    **money: str,
) -> dict[str, Any]:
    return {
        "InstanceDetails": {
            "RDSInstanceDetails": {
                "Family": instance_type.split(".")[1],
                "InstanceType": instance_type,
                "Region": region,
                "DatabaseEngine": engine,
                "DeploymentOption": deployment,
                "LicenseModel": "No license required",
                "CurrentGeneration": True,
                "SizeFlexEligible": True,
            }
        },
        **aws_ri_money(**money),
    }


def aws_node_detail(
    service: str, node_type: str, *, region: str = "us-east-1", engine: str = "redis", **money: str
) -> dict[str, Any]:
    """elasticache / redshift / memorydb / opensearch detail."""
    if service == "elasticache":
        details = {
            "ElastiCacheInstanceDetails": {
                "NodeType": node_type,
                "Region": region,
                "ProductDescription": engine,
                "Family": node_type.split(".")[1],
            }
        }
    elif service == "redshift":
        details = {"RedshiftInstanceDetails": {"NodeType": node_type, "Region": region}}
    elif service == "memorydb":
        details = {"MemoryDBInstanceDetails": {"NodeType": node_type, "Region": region}}
    else:
        cls, _, size = node_type.partition(".")
        details = {
            "ESInstanceDetails": {"InstanceClass": cls, "InstanceSize": size, "Region": region}
        }
    return {"InstanceDetails": details, **aws_ri_money(**money)}


def aws_sp_detail(
    sp_type: str = "COMPUTE_SP",
    *,
    hourly: str = "1.0",
    family: str = "",
    region: str = "",
    upfront: str = "0",
    savings: str = "200.0",
    savings_pct: str = "25.0",
    on_demand: str = "1000.0",
    sp_cost: str = "730.0",
    currency: str = "USD",
) -> dict[str, Any]:
    return {
        "SavingsPlansDetails": {
            "Region": region,
            "InstanceFamily": family,
            "OfferingId": f"offering-{secrets.token_hex(4)}",
        },
        "AccountId": "",
        "UpfrontCost": upfront,
        "EstimatedROI": "0.3",
        "CurrencyCode": currency,
        "EstimatedSPCost": sp_cost,
        "EstimatedOnDemandCost": on_demand,
        "EstimatedSavingsAmount": savings,
        "EstimatedMonthlySavingsAmount": savings,
        "EstimatedSavingsPercentage": savings_pct,
        "HourlyCommitmentToPurchase": hourly,
        "EstimatedAverageUtilization": "95.0",
        "RecommendationDetailId": secrets.token_hex(8),
    }


def azure_legacy_rec(
    subscription: str,
    *,
    resource_type: str = "VirtualMachines",
    sku: str = "Standard_D2s_v3",
    location: str = "eastus",
    term: str = "P1Y",
    scope: str = "Single",
    quantity: float = 2,
    cost_without: float = 500.0,
    cost_with: float = 350.0,
    savings: float = 150.0,
) -> dict[str, Any]:
    name = secrets.token_hex(8)
    return {
        "id": f"/subscriptions/{subscription}/providers/Microsoft.Consumption/reservationRecommendations/{name}",
        "name": name,
        "type": "Microsoft.Consumption/reservationRecommendations",
        "location": location,
        "sku": sku,
        "kind": "legacy",
        "properties": {
            "lookBackPeriod": "Last30Days",
            "instanceFlexibilityRatio": 1,
            "instanceFlexibilityGroup": "DSv3 Series",
            "normalizedSize": sku,
            "recommendedQuantityNormalized": quantity,
            "meterId": "00000000-0000-0000-0000-000000000000",
            "resourceType": resource_type,
            "term": term,
            "costWithNoReservedInstances": cost_without,
            "recommendedQuantity": quantity,
            "totalCostWithReservedInstances": cost_with,
            "netSavings": savings,
            "firstUsageDate": "2026-10-01T00:00:00Z",
            "scope": scope,
            "subscriptionId": subscription,
            "skuProperties": [{"name": "Cores", "value": "2"}],
        },
    }


def azure_modern_rec(
    subscription: str,
    *,
    resource_type: str = "VirtualMachines",
    sku: str = "Standard_E4s_v4",
    location: str = "westeurope",
    term: str = "P3Y",
    scope: str = "Single",
    quantity: float = 1,
    cost_without: str = "800.00",
    cost_with: str = "500.00",
    savings: str = "300.00",
    currency: str = "EUR",
) -> dict[str, Any]:
    name = secrets.token_hex(8)
    return {
        "id": f"/subscriptions/{subscription}/providers/Microsoft.Consumption/reservationRecommendations/{name}",
        "name": name,
        "type": "Microsoft.Consumption/reservationRecommendations",
        "location": location,
        "kind": "modern",
        "properties": {
            "lookBackPeriod": 30,
            "instanceFlexibilityRatio": 1,
            "instanceFlexibilityGroup": "ESv4 Series",
            "normalizedSize": sku,
            "recommendedQuantityNormalized": quantity,
            "meterId": "00000000-0000-0000-0000-000000000000",
            "term": term,
            "costWithNoReservedInstances": {"currency": currency, "value": cost_without},
            "recommendedQuantity": quantity,
            "resourceType": resource_type,
            "totalCostWithReservedInstances": {"currency": currency, "value": cost_with},
            "netSavings": {"currency": currency, "value": savings},
            "firstUsageDate": "2026-10-01T00:00:00Z",
            "scope": scope,
            "subscriptionId": subscription,
            "skuName": sku,
            "location": location,
            "skuProperties": [{"name": "Cores", "value": "4"}],
        },
    }


def azure_reservation(
    subscription: str,
    *,
    sku: str = "Standard_D2s_v3",
    location: str = "eastus",
    quantity: int = 2,
    term: str = "P1Y",
    billing_plan: str = "Monthly",
    resource_type: str = "VirtualMachines",
    state: str = "Succeeded",
) -> dict[str, Any]:
    order, rid = secrets.token_hex(8), secrets.token_hex(8)
    return {
        "id": f"/providers/microsoft.capacity/reservationOrders/{order}/reservations/{rid}",
        "name": f"{order}/{rid}",
        "type": "Microsoft.Capacity/reservationOrders/reservations",
        "location": location,
        "sku": {"name": sku},
        "properties": {
            "displayName": f"VM_RI_{rid[:6]}",
            "quantity": quantity,
            "reservedResourceType": resource_type,
            "term": term,
            "billingPlan": billing_plan,
            "effectiveDateTime": "2026-01-01T00:00:00Z",
            "expiryDateTime": "2027-01-01T00:00:00Z",
            "provisioningState": state,
            "appliedScopeType": "Single",
            "appliedScopes": [f"/subscriptions/{subscription}"],
            "utilization": {
                "trend": "UP",
                "aggregates": [
                    {"grain": 7, "grainUnit": "days", "value": 92.5, "valueUnit": "percentage"}
                ],
            },
        },
    }


def gcp_commitment_rec(
    project: str,
    region: str,
    *,
    plan: str = "TWELVE_MONTH",
    machine_type: str = "GENERAL_PURPOSE_E2",
    vcpus: int = 8,
    memory_mb: int = 32768,
    monthly_cost_units: str = "-120",
    nanos: int = -500_000_000,
    currency: str = "USD",
) -> dict[str, Any]:
    rid = secrets.token_hex(8)
    return {
        "name": f"projects/{project}/locations/{region}/recommenders/{GCP_COMMITMENT_RECOMMENDER}/recommendations/{rid}",
        "description": f"Purchase a {plan} commitment",
        "recommenderSubtype": "COMMITMENT",
        "priority": "P2",
        "primaryImpact": {
            "category": "COST",
            "costProjection": {
                "cost": {"currencyCode": currency, "units": monthly_cost_units, "nanos": nanos},
                "duration": "2592000s",
            },
        },
        "content": {
            "operationGroups": [
                {
                    "operations": [
                        {
                            "action": "add",
                            "resourceType": "compute.googleapis.com/Commitment",
                            "resource": f"//compute.googleapis.com/projects/{project}/regions/{region}/commitments/-",
                            "path": "/",
                            "value": {
                                "plan": plan,
                                "type": machine_type,
                                "resources": [
                                    {"type": "VCPU", "amount": str(vcpus)},
                                    {"type": "MEMORY", "amount": str(memory_mb)},
                                ],
                            },
                        }
                    ]
                }
            ]
        },
        "stateInfo": {"state": "ACTIVE"},
        "etag": '"1"',
    }


def gcp_commitment(
    region: str,
    *,
    name: str | None = None,
    plan: str = "TWELVE_MONTH",
    machine_type: str = "GENERAL_PURPOSE_E2",
    status: str = "ACTIVE",
    vcpus: int = 4,
    memory_mb: int = 16384,
) -> dict[str, Any]:
    name = name or f"commitment-{secrets.token_hex(4)}"
    return {
        "id": str(secrets.randbelow(10**15)),
        "name": name,
        "region": f"https://compute.googleapis.com/compute/v1/projects/p/regions/{region}",
        "status": status,
        "plan": plan,
        "type": machine_type,
        "category": "MACHINE",
        "startTimestamp": "2026-01-01T00:00:00.000-08:00",
        "endTimestamp": "2027-01-01T00:00:00.000-08:00",
        "resources": [
            {"type": "VCPU", "amount": str(vcpus)},
            {"type": "MEMORY", "amount": str(memory_mb)},
        ],
        "autoRenew": False,
    }


# --- wire helpers ----------------------------------------------------------------------


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    return int(raw[1:])


def _slice(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    start = _offset(token)
    end = start + size
    return items[start:end], (_page_token(end) if end < len(items) else None)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(type(value).__name__)


def _json(body: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(body, default=_default), status, media_type=content_type)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return str(value)


def _xml(shape: Any, value: Any, tag: str) -> str:
    kind = shape.type_name
    if kind == "structure":
        inner = "".join(
            _xml(member, value[name], member.serialization.get("name", name))
            for name, member in shape.members.items()
            if isinstance(value, dict) and value.get(name) is not None
        )
    elif kind == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            return "".join(_xml(member, v, tag) for v in value)
        member_tag = member.serialization.get("name", "member")
        inner = "".join(_xml(member, v, member_tag) for v in value)
    elif kind == "timestamp":
        inner = _iso(value)
    elif kind == "boolean":
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


_MODELS: dict[str, Any] = {}


def _output_shape(signing_name: str, operation: str) -> Any:
    name = _BOTOCORE_NAMES.get(signing_name, signing_name)
    if name not in _MODELS:
        import botocore.session

        _MODELS[name] = botocore.session.get_session().get_service_model(name)
    return _MODELS[name].operation_model(operation).output_shape


def aws_answer(ctx: AwsContext, result: dict[str, Any]) -> Response:
    """A success answer for ``ctx``'s operation in its protocol (botocore member names)."""
    if ctx.protocol in {"json", "rest-json"}:
        ctype = "application/x-amz-json-1.1" if ctx.protocol == "json" else "application/json"
        return _json(_camel_for_rest(result), content_type=ctype)
    shape = _output_shape(ctx.signing_name, ctx.operation)
    request_id = secrets.token_hex(8)
    if ctx.protocol == "ec2":
        members = "".join(
            _xml(member, result[name], member.serialization.get("name", name))
            for name, member in shape.members.items()
            if result.get(name) is not None
        )
        body = (
            f'<{ctx.operation}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>{request_id}</requestId>{members}</{ctx.operation}Response>"
        )
    else:
        inner = _xml(shape, result, f"{ctx.operation}Result")
        body = (
            f"<{ctx.operation}Response>{inner}<ResponseMetadata><RequestId>{request_id}"
            f"</RequestId></ResponseMetadata></{ctx.operation}Response>"
        )
    return Response(body, 200, media_type="text/xml")


def _camel_for_rest(result: dict[str, Any]) -> dict[str, Any]:
    return result


def aws_error(protocol: str, status: int, code: str, message: str) -> Response:
    """An error answer in the protocol's shape (CLOUD_APIS "Responses")."""
    if protocol == "json":
        return _json({"__type": code, "message": message}, status, "application/x-amz-json-1.1")
    if protocol == "rest-json":
        response = _json({"message": message}, status)
        response.headers["x-amzn-ErrorType"] = f"{code}:http://internal.amazon.com/"
        return response
    if protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{secrets.token_hex(8)}</RequestID></Response>"
        )
        return Response(body, status, media_type="text/xml")
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>"
        f"{escape(message)}</Message></Error><RequestId>{secrets.token_hex(8)}</RequestId>"
        "</ErrorResponse>"
    )
    return Response(body, status, media_type="text/xml")


_THROTTLE = {
    "json": (400, "ThrottlingException"),
    "rest-json": (429, "ThrottlingException"),
    "ec2": (503, "RequestLimitExceeded"),
    "query": (400, "Throttling"),
}
_BAD_KEY = {
    "json": (400, "UnrecognizedClientException"),
    "rest-json": (403, "UnrecognizedClientException"),
    "ec2": (401, "AuthFailure"),
    "query": (403, "InvalidClientTokenId"),
}
_DENIED = {
    "json": (400, "AccessDeniedException"),
    "rest-json": (403, "AccessDeniedException"),
    "ec2": (403, "UnauthorizedOperation"),
    "query": (403, "AccessDenied"),
}


def _moto_account(access_key_id: str) -> str | None:
    try:
        from moto.iam.models import iam_backends
    except ImportError:  # pragma: no cover - moto is a test dependency
        return None
    for account_id, account in list(iam_backends.items()):
        for partition in list(account.keys()):
            if access_key_id in account[partition].access_keys:
                return str(account_id)
    return None


async def _slow(request: Request, delay_s: float) -> None:
    deadline = time.monotonic() + delay_s
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if await request.is_disconnected():
            return


async def _latency(sim: CollectSim) -> None:
    if sim.latency_s > 0:
        await asyncio.sleep(sim.latency_s)


# --- AWS ---------------------------------------------------------------------------------


def _aws_protocol(signing_name: str) -> str:
    if signing_name in {"ce", "memorydb"}:
        return "json"
    if signing_name in {"savingsplans", "es"}:
        return "rest-json"
    if signing_name == "ec2":
        return "ec2"
    return "query"


async def aws_dispatch(request: Request) -> Response:
    """Every simulated AWS call: ``POST /`` (json/query/ec2) and the rest-json paths."""
    sim: CollectSim = request.app.state.sim.collect
    match = _CREDENTIAL.search(request.headers.get("authorization", ""))
    if match is None:
        return aws_error(
            "query", 403, "MissingAuthenticationToken", "Request is missing Authentication Token"
        )
    access_key_id, region, signing_name = match.groups()
    protocol = _aws_protocol(signing_name)
    raw = await request.body()
    params: dict[str, Any]
    if protocol == "json":
        operation = request.headers.get("x-amz-target", ".").split(".", 1)[1]
        params = json.loads(raw or b"{}")
    elif protocol == "rest-json":
        if request.url.path == "/DescribeSavingsPlans":
            operation = "DescribeSavingsPlans"
        elif request.url.path.endswith("/opensearch/reservedInstances"):
            operation = "DescribeReservedInstances"
        else:
            operation = request.url.path.strip("/")
        params = json.loads(raw) if raw else dict(request.query_params)
    else:
        params = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        operation = params.get("Action", "")
    with sim._lock:
        account = sim.aws_keys.get(access_key_id)
    if account is None:
        account = _moto_account(access_key_id)
        if account is not None:  # remembered: a scan of moto's accounts per call is O(N)
            sim.aws_key(access_key_id, account)
    call = sim._record(CollectCall("aws", account, access_key_id, operation, region=region))
    sim._enter(account)
    try:
        await _latency(sim)
        response = await _aws_answer(
            AwsContext(
                request,
                sim,
                signing_name,
                operation,
                protocol,
                params,
                access_key_id,
                account or "",
                region,
            )
        )
    finally:
        sim._leave(account)
    call.status = response.status_code
    return response


async def _aws_answer(ctx: AwsContext) -> Response:
    sim, protocol = ctx.sim, ctx.protocol
    if not ctx.account:
        status, code = _BAD_KEY[protocol]
        return aws_error(
            protocol, status, code, "The security token included in the request is invalid."
        )
    fault = sim._take_fault(ctx.account, ctx.operation)
    if fault is not None:
        if fault.kind == "bad_credentials":
            status, code = _BAD_KEY[protocol]
            return aws_error(
                protocol, status, code, "The security token included in the request is invalid."
            )
        if fault.kind == "throttle":
            status, code = _THROTTLE[protocol]
            if ctx.signing_name == "ce":
                status, code = 400, "LimitExceededException"
            return aws_error(protocol, status, code, "Rate exceeded")
        if fault.kind == "timeout":
            await _slow(ctx.request, fault.delay_s)
        if fault.kind == "no_data" and ctx.signing_name == "ce":
            return aws_error(
                protocol,
                400,
                "DataUnavailableException",
                "Insufficient amount of data to generate recommendations.",
            )
        if fault.kind == "malformed":
            if protocol in {"json", "rest-json"}:
                return _json(
                    {
                        "Recommendations": "oops",
                        "savingsPlans": 7,
                        "SavingsPlansPurchaseRecommendation": [],
                        "ReservedNodes": {},
                    }
                )
            return Response(f"<{ctx.operation}Response><broken", 200, media_type="text/xml")
    handler = _AWS_OPERATIONS.get((ctx.signing_name, ctx.operation))
    if handler is None:
        return aws_error(
            protocol,
            400,
            "InvalidAction",
            f"cloudsim does not serve {ctx.signing_name}:{ctx.operation}",
        )
    part = _INVENTORY_OPERATIONS.get((ctx.signing_name, ctx.operation))
    if part is not None and (ctx.account, part) in sim.denied:
        status, code = _DENIED[protocol]
        return aws_error(
            protocol,
            status,
            code,
            f"User: arn:aws:sts::{ctx.account}:assumed-role/x is not authorized to perform: {ctx.operation}",
        )
    return await handler(ctx)


async def ce_reservation_recommendations(ctx: AwsContext) -> Response:
    p = ctx.params
    if "Service" not in p:
        return aws_error("json", 400, "ValidationException", "Service is required")
    with ctx.sim._lock:
        wanted = [
            r
            for r in ctx.sim.ri.get(ctx.account, [])
            if r["service"] == p["Service"]
            and r["term"] == p.get("TermInYears", "ONE_YEAR")
            and r["payment"] == p.get("PaymentOption", "NO_UPFRONT")
            and (
                p["Service"] != CE_SERVICES["ec2"]
                or r["offering_class"]
                == p.get("ServiceSpecification", {})
                .get("EC2Specification", {})
                .get("OfferingClass", "STANDARD")
            )
        ]
        size = int(p.get("PageSize") or ctx.sim.page_size)
    page, nxt = _slice([r["detail"] for r in wanted], p.get("NextPageToken"), size)
    body: dict[str, Any] = {
        "Metadata": {
            "RecommendationId": secrets.token_hex(8),
            "GenerationTimestamp": "2026-12-01T00:00:00Z",
            "LookbackPeriodInDays": p.get("LookbackPeriodInDays", "THIRTY_DAYS"),
        },
        "Recommendations": (
            [
                {
                    "AccountScope": p.get("AccountScope", "PAYER"),
                    "LookbackPeriodInDays": p.get("LookbackPeriodInDays", "THIRTY_DAYS"),
                    "TermInYears": p.get("TermInYears"),
                    "PaymentOption": p.get("PaymentOption"),
                    "RecommendationDetails": page,
                    "RecommendationSummary": {
                        "TotalEstimatedMonthlySavingsAmount": "0",
                        "CurrencyCode": "USD",
                    },
                }
            ]
            if page
            else []
        ),
    }
    if nxt:
        body["NextPageToken"] = nxt
    return aws_answer(ctx, body)


async def ce_savings_plans_recommendations(ctx: AwsContext) -> Response:
    p = ctx.params
    for required in ("SavingsPlansType", "TermInYears", "PaymentOption", "LookbackPeriodInDays"):
        if required not in p:
            return aws_error("json", 400, "ValidationException", f"{required} is required")
    with ctx.sim._lock:
        wanted = [
            r["detail"]
            for r in ctx.sim.sp.get(ctx.account, [])
            if r["type"] == p["SavingsPlansType"]
            and r["term"] == p["TermInYears"]
            and r["payment"] == p["PaymentOption"]
        ]
        size = ctx.sim.page_size
    page, nxt = _slice(wanted, p.get("NextPageToken"), size)
    body: dict[str, Any] = {
        "Metadata": {
            "RecommendationId": secrets.token_hex(8),
            "GenerationTimestamp": "2026-12-01T00:00:00Z",
        },
        "SavingsPlansPurchaseRecommendation": {
            "AccountScope": p.get("AccountScope", "PAYER"),
            "SavingsPlansType": p["SavingsPlansType"],
            "TermInYears": p["TermInYears"],
            "PaymentOption": p["PaymentOption"],
            "LookbackPeriodInDays": p["LookbackPeriodInDays"],
            "SavingsPlansPurchaseRecommendationDetails": page,
        },
    }
    if nxt:
        body["NextPageToken"] = nxt
    return aws_answer(ctx, body)


def _inventory_handler(part: str, list_key: str, token_in: str, token_out: str) -> AwsHandler:
    async def handler(ctx: AwsContext) -> Response:
        with ctx.sim._lock:
            items = list(ctx.sim.inventory.get((ctx.account, part), []))
            size = ctx.sim.page_size
        if part == "ec2":
            # DescribeReservedInstances does not page; honour Filter.N.Name=state.
            states = [
                v for k, v in ctx.params.items() if re.fullmatch(r"Filter\.\d+\.Value\.\d+", k)
            ]
            if states:
                items = [i for i in items if i.get("State") in states]
            return aws_answer(ctx, {list_key: items})
        if part == "savingsplans":
            wanted = ctx.params.get("states") or []
            if wanted:
                items = [i for i in items if i.get("state") in wanted]
        page, nxt = _slice(items, ctx.params.get(token_in), size)
        body: dict[str, Any] = {list_key: page}
        if nxt:
            body[token_out] = nxt
        return aws_answer(ctx, body)

    return handler


register_aws_operation("ce", "GetReservationPurchaseRecommendation", ce_reservation_recommendations)
register_aws_operation(
    "ce", "GetSavingsPlansPurchaseRecommendation", ce_savings_plans_recommendations
)
register_aws_operation(
    "ec2", "DescribeReservedInstances", _inventory_handler("ec2", "ReservedInstances", "", "")
)
register_aws_operation(
    "rds",
    "DescribeReservedDBInstances",
    _inventory_handler("rds", "ReservedDBInstances", "Marker", "Marker"),
)
register_aws_operation(
    "elasticache",
    "DescribeReservedCacheNodes",
    _inventory_handler("elasticache", "ReservedCacheNodes", "Marker", "Marker"),
)
register_aws_operation(
    "redshift",
    "DescribeReservedNodes",
    _inventory_handler("redshift", "ReservedNodes", "Marker", "Marker"),
)
register_aws_operation(
    "memorydb",
    "DescribeReservedNodes",
    _inventory_handler("memorydb", "ReservedNodes", "NextToken", "NextToken"),
)
register_aws_operation(
    "es",
    "DescribeReservedInstances",
    _inventory_handler("opensearch", "ReservedInstances", "nextToken", "NextToken"),
)
register_aws_operation(
    "savingsplans",
    "DescribeSavingsPlans",
    _inventory_handler("savingsplans", "savingsPlans", "nextToken", "nextToken"),
)


# --- Azure / GCP -------------------------------------------------------------------------


def _arm_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def _google_error(status: int, status_name: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": status_name}}, status
    )


def _token(request: Request, state: SimState) -> Any:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return state.lookup_token(value.strip()) if scheme.lower() == "bearer" else None


async def _rest(
    request: Request,
    provider: str,
    key: str,
    operation: str,
    answer: Callable[[Any], Awaitable[Response]],
) -> Response:
    state: SimState = request.app.state.sim
    sim = state.collect
    token = _token(request, state)
    call = sim._record(CollectCall(provider, key, token.principal if token else None, operation))
    sim._enter(key)
    try:
        await _latency(sim)
        response = await _rest_answer(request, provider, key, operation, token, answer)
    finally:
        sim._leave(key)
    call.status = response.status_code
    return response


async def _rest_answer(
    request: Request,
    provider: str,
    key: str,
    operation: str,
    token: Any,
    answer: Callable[[Any], Awaitable[Response]],
) -> Response:
    state: SimState = request.app.state.sim
    sim = state.collect
    arm = provider == "azure"
    if arm and "api-version" not in request.query_params:
        return _arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    unauth = (
        _arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if arm
        else _google_error(
            401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
        )
    )
    if token is None:
        return unauth
    fault = sim._take_fault(key, operation)
    if fault is not None:
        if fault.kind == "bad_credentials":
            return unauth
        if fault.kind == "throttle":
            if arm:
                response: Response = _arm_error(
                    429, "TooManyRequests", "Too many requests. Please retry."
                )
                response.headers["x-ms-ratelimit-microsoft.consumption-retry-after"] = "0"
                response.headers["Retry-After"] = "0"
                return response
            response = _google_error(
                429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests'."
            )
            return response
        if fault.kind == "timeout":
            await _slow(request, fault.delay_s)
        if fault.kind == "malformed":
            return Response(
                '{"value": [{"properties": "oops"}], "recommendations": 5, "items": [1',
                200,
                media_type="application/json",
            )
    return await answer(token)


def _filter_terms(expression: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"properties/(\w+)\s+eq\s+'([^']*)'", expression)
    }


async def azure_recommendations(request: Request) -> Response:
    state: SimState = request.app.state.sim
    sub_id = request.path_params["sub_id"]

    async def answer(token: Any) -> Response:
        with state._lock:
            sub = state.subscriptions.get(sub_id)
        if sub is None:
            return _arm_error(
                404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found."
            )
        if token.principal not in sub.granted:
            return _arm_error(
                403,
                "AuthorizationFailed",
                f"The client '{token.principal}' does not have authorization to perform action 'Microsoft.Consumption/reservationRecommendations/read' over scope '/subscriptions/{sub_id}'.",
            )
        terms = _filter_terms(request.query_params.get("$filter", ""))
        with state.collect._lock:
            items = [
                i
                for i in state.collect.azure_recs.get(sub_id, [])
                if all(
                    str(i["properties"].get(k)) == v
                    for k, v in terms.items()
                    if k in {"resourceType", "scope"}
                )
            ]
            size = state.collect.page_size
        if not items:
            return Response(status_code=204)
        page, nxt = _slice(items, request.query_params.get("$skiptoken"), size)
        body: dict[str, Any] = {"value": page}
        if nxt:
            query = {k: v for k, v in request.query_params.items() if k != "$skiptoken"}
            encoded = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
            base = state.collect.next_link_base or str(request.base_url).rstrip("/")
            body["nextLink"] = f"{base}{request.url.path}?{encoded}&$skiptoken={nxt}"
        return JSONResponse(body)

    return await _rest(request, "azure", sub_id, "reservationRecommendations", answer)


async def azure_reservations(request: Request) -> Response:
    state: SimState = request.app.state.sim
    token = _token(request, state)
    with state._lock:
        visible = sorted(
            s.subscription_id
            for s in state.subscriptions.values()
            if token is not None and token.principal in s.granted
        )
    key = visible[0] if len(visible) == 1 else None

    async def answer(token: Any) -> Response:
        with state.collect._lock:
            if any((sub, "azure") in state.collect.denied for sub in visible):
                return _arm_error(
                    403,
                    "AuthorizationFailed",
                    f"The client '{token.principal}' does not have authorization to perform action 'Microsoft.Capacity/reservations/read'.",
                )
            items = [r for sub in visible for r in state.collect.azure_reservations.get(sub, [])]
            size = state.collect.page_size
        page, nxt = _slice(items, request.query_params.get("$skiptoken"), size)
        body: dict[str, Any] = {"value": page}
        if nxt:
            api = quote(request.query_params["api-version"])
            body["nextLink"] = (
                f"{str(request.base_url).rstrip('/')}{request.url.path}?api-version={api}&$skiptoken={nxt}"
            )
        return JSONResponse(body)

    return await _rest(request, "azure", key or "", "reservations", answer)


def _project_check(state: SimState, project: str, token: Any, permission: str) -> Response | None:
    with state._lock:
        proj = state.projects.get(project)
    if proj is None:
        return _google_error(404, "NOT_FOUND", f"Project '{project}' not found.")
    if token.principal not in proj.granted:
        return _google_error(
            403,
            "PERMISSION_DENIED",
            f"Permission '{permission}' denied on resource 'projects/{project}'.",
        )
    return None


async def gcp_regions(request: Request) -> Response:
    state: SimState = request.app.state.sim
    project = request.path_params["project"]

    async def answer(token: Any) -> Response:
        denied = _project_check(state, project, token, "compute.regions.list")
        if denied is not None:
            return denied
        with state.collect._lock:
            regions = list(state.collect.regions.get(project, ["us-central1"]))
            size = state.collect.page_size
        page, nxt = _slice(
            [{"kind": "compute#region", "name": r, "status": "UP"} for r in regions],
            request.query_params.get("pageToken"),
            size,
        )
        return JSONResponse(
            {"kind": "compute#regionList", "items": page, **({"nextPageToken": nxt} if nxt else {})}
        )

    return await _rest(request, "gcp", project, "regions.list", answer)


async def gcp_recommendations(request: Request) -> Response:
    state: SimState = request.app.state.sim
    project, region = request.path_params["project"], request.path_params["region"]
    recommender = request.path_params["recommender"]

    async def answer(token: Any) -> Response:
        denied = _project_check(
            state, project, token, "recommender.commitmentUtilizationInsights.list"
        )
        if denied is not None:
            return denied
        if recommender != GCP_COMMITMENT_RECOMMENDER:
            return JSONResponse({})
        with state.collect._lock:
            items = list(state.collect.gcp_recs.get((project, region), []))
            size = state.collect.page_size
        page, nxt = _slice(items, request.query_params.get("pageToken"), size)
        body: dict[str, Any] = {"recommendations": page} if page else {}
        if nxt:
            body["nextPageToken"] = nxt
        return JSONResponse(body)

    return await _rest(request, "gcp", project, f"recommendations.list:{region}", answer)


async def gcp_aggregated_commitments(request: Request) -> Response:
    state: SimState = request.app.state.sim
    project = request.path_params["project"]

    async def answer(token: Any) -> Response:
        denied = _project_check(state, project, token, "compute.commitments.list")
        if denied is not None:
            return denied
        with state.collect._lock:
            if (project, "gcp") in state.collect.denied:
                return _google_error(
                    403,
                    "PERMISSION_DENIED",
                    "Required 'compute.commitments.list' permission for 'projects/" + project + "'",
                )
            flat = [
                (region, c)
                for (p, region), items in sorted(state.collect.gcp_commitments.items())
                if p == project
                for c in items
            ]
            size = state.collect.page_size
        page, nxt = _slice(flat, request.query_params.get("pageToken"), size)
        grouped: dict[str, Any] = {}
        for region, commitment in page:
            grouped.setdefault(f"regions/{region}", {"commitments": []})["commitments"].append(
                commitment
            )
        body: dict[str, Any] = {"kind": "compute#commitmentAggregatedList", "items": grouped}
        if nxt:
            body["nextPageToken"] = nxt
        return JSONResponse(body)

    return await _rest(request, "gcp", project, "commitments.aggregatedList", answer)


def routes() -> list[Route]:
    """The collection routes, registered by ``app.create_app``."""
    return [
        Route("/", aws_dispatch, methods=["POST"]),
        Route("/DescribeSavingsPlans", aws_dispatch, methods=["POST"]),
        Route("/2021-01-01/opensearch/reservedInstances", aws_dispatch, methods=["GET"]),
        Route(
            "/subscriptions/{sub_id}/providers/Microsoft.Consumption/reservationRecommendations",
            azure_recommendations,
            methods=["GET"],
        ),
        Route("/providers/Microsoft.Capacity/reservations", azure_reservations, methods=["GET"]),
        Route("/compute/v1/projects/{project}/regions", gcp_regions, methods=["GET"]),
        Route(
            "/compute/v1/projects/{project}/aggregated/commitments",
            gcp_aggregated_commitments,
            methods=["GET"],
        ),
        Route(
            "/v1/projects/{project}/locations/{region}/recommenders/{recommender}/recommendations",
            gcp_recommendations,
            methods=["GET"],
        ),
    ]


# --- pointing the product at it ----------------------------------------------------------

AWS_COLLECT_SERVICES = (
    "COST_EXPLORER",
    "EC2",
    "RDS",
    "ELASTICACHE",
    "REDSHIFT",
    "MEMORYDB",
    "OPENSEARCH",
    "SAVINGSPLANS",
)


def collect_env(sim: SimServer) -> dict[str, str]:
    """``AWS_ENDPOINT_URL_<SERVICE>`` for every AWS collection service (STS stays on moto)."""
    return {f"AWS_ENDPOINT_URL_{name}": sim.url for name in AWS_COLLECT_SERVICES}


def collect_settings(sim: SimServer) -> dict[str, object]:
    """Settings fields pointing Azure/GCP collection at the simulator (and trusting its CA)."""
    return {
        "azure_authority_host": sim.url,
        "azure_management_url": sim.url,
        "gcp_token_uri": f"{sim.url}/token",
        "gcp_sts_token_uri": f"{sim.url}/v1/token",
        "gcp_api_base_cloudresourcemanager": sim.url,
        "gcp_api_base_iamcredentials": sim.url,
        "gcp_api_base_recommender": sim.url,
        "gcp_api_base_compute": sim.url,
        "ca_bundle": sim.ca_pem_path,
    }


__all__ = [
    "CE_SERVICES",
    "AwsContext",
    "CollectCall",
    "CollectSim",
    "aws_answer",
    "aws_ec2_detail",
    "aws_error",
    "aws_node_detail",
    "aws_rds_detail",
    "aws_ri_money",
    "aws_sp_detail",
    "azure_legacy_rec",
    "azure_modern_rec",
    "azure_reservation",
    "collect_env",
    "collect_settings",
    "gcp_commitment",
    "gcp_commitment_rec",
    "register_aws_operation",
    "routes",
]
