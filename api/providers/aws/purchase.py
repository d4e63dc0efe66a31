"""AWS purchases (``shared/CLOUD_APIS.md`` *Purchases*): EC2 reserved instances, RDS,
ElastiCache and MemoryDB reservations and Savings Plans, each with the idempotency the API
offers.

| service | token | after a crash |
|---|---|---|
| Savings Plans | ``clientToken`` = the line's key | the same call again returns the same plan |
| RDS, ElastiCache, MemoryDB | the reservation id (``ReservedDBInstanceId``, ``ReservedCacheNodeId``, ``ReservationId``) = ``cudly-<key>`` | describe by that id (a reused id is ``…AlreadyExists``) |
| OpenSearch | ``ReservationName`` = ``cudly-<key>`` (uniqueness undocumented) | look the name up before buying and after a crash (``DescribeReservedInstances``) |
| Redshift | none | like EC2 without the tag: a node of the line's type and count started after the claim and not yet attributed |
| EC2 | none | the line was claimed (durable intent) before the call; the RI is tagged with the key after it; reconcile = describe: the tagged RI, else an untagged RI of the same type and count started after the claim |

Purchase calls are never retried by botocore (``max_attempts=1``): a retried EC2 purchase
after a lost response would buy twice; our state machine retries under the same key.

Recommendation ``details`` the purchaser reads (the collector writes them): EC2
``platform`` (``Linux/UNIX``), ``tenancy`` (``default``), ``offering_class`` (``standard``);
RDS ``multi_az`` (bool; the engine is the recommendation's ``engine``); ElastiCache the
engine as ``ProductDescription`` (default ``redis``); Savings Plans ``offering_id`` (CE's ``OfferingId``). Missing values
take the defaults shown. For Savings Plans the line ``count`` is the hourly commitment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from api.config import Settings
from api.enums import Payment, Provider
from api.providers.aws.client import caller_identity, resolve_session, sdk_error
from api.providers.awssdk import AwsSessionCredentials, client_kwargs
from api.providers.base import (
    AccountAuth,
    ProviderError,
    PurchaseRejected,
    PurchaseRequest,
    PurchaseResult,
    ensure_identity,
)

if TYPE_CHECKING:
    from api.providers.clients import ProviderClients

TAG_KEY = "cudly:idempotency-key"
YEAR_S = 31_536_000
OFFERING_TYPES = {
    Payment.no_upfront.value: "No Upfront",
    Payment.partial_upfront.value: "Partial Upfront",
    Payment.all_upfront.value: "All Upfront",
}
# Clock skew allowed between us and AWS when matching an untagged RI to a claim.
SKEW = timedelta(minutes=5)
_UNKNOWN_OUTCOME = {"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"}


def _code(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "Unknown")), str(error.get("Message", ""))[:300]


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _refused(exc: ClientError, operation: str) -> ProviderError:
    """A 4xx answer is a definitive refusal (nothing bought); 5xx/throttling is unknown."""
    code, message = _code(exc)
    text = f"AWS refused {operation} ({code}): {message}"
    if _status(exc) >= 500 or code in _UNKNOWN_OUTCOME:
        return ProviderError(text, code="aws_purchase_unknown")
    return PurchaseRejected(text, code="aws_purchase_refused")


@contextmanager
def _purchase_call(operation: str) -> Iterator[None]:
    """AWS's answer to a purchase call, as the runner reads it: a 4xx is a refusal (nothing
    bought), an invalid request is refused before sending, anything else is unknown."""
    try:
        yield
    except ClientError as exc:
        raise _refused(exc, operation) from None
    except ParamValidationError as exc:
        raise PurchaseRejected(f"invalid purchase request: {exc}", code="aws_invalid") from None
    except BotoCoreError as exc:
        raise sdk_error(exc, operation) from None


# Cost Explorer names RDS engines ("PostgreSQL", "Aurora MySQL"); the offerings filter
# wants the product description ("postgresql", "aurora-mysql"). Unknown names pass lower-cased.
RDS_PRODUCTS = {
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "aurora mysql": "aurora-mysql",
    "aurora postgresql": "aurora-postgresql",
    "aurora": "aurora",
}


def rds_product(engine: str | None) -> str:
    """The RDS offering ProductDescription for a recommendation's engine; never a guess."""
    if not engine:
        raise ProviderError(
            "the RDS recommendation carries no engine; collect again before buying",
            code="no_offering",
        )
    name = engine.strip().lower()
    return RDS_PRODUCTS.get(name, name.replace(" ", "-"))


@dataclass(frozen=True)
class ReservationApi:
    """A reserved-offering API whose reservation id the caller chooses."""

    client: str
    purchase: str
    describe: str
    offering_param: str
    id_param: str
    count_param: str
    result: str
    describe_list: str
    exists_codes: frozenset[str]
    missing_codes: frozenset[str]


RESERVATION_ID_APIS = {
    "rds": ReservationApi(
        "rds",
        "purchase_reserved_db_instances_offering",
        "describe_reserved_db_instances",
        "ReservedDBInstancesOfferingId",
        "ReservedDBInstanceId",
        "DBInstanceCount",
        "ReservedDBInstance",
        "ReservedDBInstances",
        frozenset({"ReservedDBInstanceAlreadyExists"}),
        frozenset({"ReservedDBInstanceNotFound"}),
    ),
    "elasticache": ReservationApi(
        "elasticache",
        "purchase_reserved_cache_nodes_offering",
        "describe_reserved_cache_nodes",
        "ReservedCacheNodesOfferingId",
        "ReservedCacheNodeId",
        "CacheNodeCount",
        "ReservedCacheNode",
        "ReservedCacheNodes",
        frozenset({"ReservedCacheNodeAlreadyExists"}),
        frozenset({"ReservedCacheNodeNotFound"}),
    ),
    "memorydb": ReservationApi(
        "memorydb",
        "purchase_reserved_nodes_offering",
        "describe_reserved_nodes",
        "ReservedNodesOfferingId",
        "ReservationId",
        "NodeCount",
        "ReservedNode",
        "ReservedNodes",
        frozenset({"ReservedNodeAlreadyExistsFault", "ReservedNodeAlreadyExists"}),
        frozenset({"ReservedNodeNotFoundFault", "ReservedNodeNotFound"}),
    ),
}


OPENSEARCH_PAYMENTS = {
    Payment.no_upfront.value: "NO_UPFRONT",
    Payment.partial_upfront.value: "PARTIAL_UPFRONT",
    Payment.all_upfront.value: "ALL_UPFRONT",
}


async def _all_pages(call: Any, key: str) -> list[dict[str, Any]]:
    """Every item of a Marker-paged query API (Redshift)."""
    found: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = await call(**({"Marker": marker} if marker else {}))
        found.extend(page.get(key, []))
        marker = page.get("Marker")
        if not marker:
            return found


async def _all_opensearch_offerings(opensearch: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = await opensearch.describe_reserved_instance_offerings(
            **({"NextToken": token} if token else {})
        )
        found.extend(page.get("ReservedInstanceOfferings", []))
        token = page.get("NextToken")
        if not token:
            return found


async def _opensearch_by_name(opensearch: Any, name: str) -> PurchaseResult | None:
    """The reserved instance named ``name`` (all pages), if any."""
    token: str | None = None
    while True:
        page = await opensearch.describe_reserved_instances(
            **({"NextToken": token} if token else {})
        )
        for reserved in page.get("ReservedInstances", []):
            if reserved.get("ReservationName") == name:
                return PurchaseResult(provider_commitment_id=str(reserved["ReservedInstanceId"]))
        token = page.get("NextToken")
        if not token:
            return None


def reservation_id(request: PurchaseRequest) -> str:
    """The caller-chosen reservation id (RDS, ElastiCache, MemoryDB): derived from the key."""
    return f"cudly-{request.idempotency_key}"


class AwsPurchaser:
    """EC2, RDS and Savings Plans purchases acting as the account's own identity."""

    provider = Provider.aws

    async def _credentials(self, auth: AccountAuth, settings: Settings) -> AwsSessionCredentials:
        return await resolve_session(auth, settings)

    def _client(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        service: str,
        region: str | None,
    ) -> Any:
        kwargs = client_kwargs(settings)
        # One attempt: a purchase is retried only by the state machine, under the same key.
        kwargs["config"] = kwargs["config"].merge(Config(retries={"max_attempts": 1}))
        if region:
            kwargs["region_name"] = region
        return clients.aws_session.client(
            service,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            **kwargs,
        )

    async def confirm_identity(
        self, auth: AccountAuth, settings: Settings, clients: ProviderClients
    ) -> str:
        """``GetCallerIdentity`` with the account's session; its account must be external_id."""
        credentials = await self._credentials(auth, settings)
        arn = await caller_identity(credentials, settings, f"account {auth.account.name!r}")
        parts = arn.split(":")
        account = parts[4] if len(parts) > 5 else ""
        ensure_identity(Provider.aws, auth.account.external_id, account, what="AWS account")
        return arn

    async def find_offering(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> str | None:
        """The reserved offering matching the line (Savings Plans: CE's offering id)."""
        if request.service == "savings-plans":
            offering = request.offering_id or request.details.get("offering_id")
            if not offering:
                raise ProviderError(
                    "the Savings Plans recommendation carries no offering id", code="no_offering"
                )
            return str(offering)
        credentials = await self._credentials(auth, settings)
        duration = request.term * YEAR_S
        offering_type = OFFERING_TYPES[request.payment]
        try:
            if request.service == "ec2":
                # Never guess the platform: a Linux RI bought for Windows usage saves nothing.
                if not request.details.get("platform"):
                    raise ProviderError(
                        "the EC2 recommendation carries no platform; collect again before buying",
                        code="no_offering",
                    )
                async with self._client(
                    clients, credentials, settings, "ec2", request.region
                ) as ec2:
                    answer = await ec2.describe_reserved_instances_offerings(
                        InstanceType=request.resource_type,
                        ProductDescription=str(request.details["platform"]),
                        InstanceTenancy=str(request.details.get("tenancy") or "default"),
                        OfferingClass=str(request.details.get("offering_class") or "standard"),
                        OfferingType=offering_type,
                        MinDuration=duration,
                        MaxDuration=duration,
                        IncludeMarketplace=False,
                    )
                offerings = answer.get("ReservedInstancesOfferings", [])
                key = "ReservedInstancesOfferingId"
            elif request.service == "rds":
                async with self._client(
                    clients, credentials, settings, "rds", request.region
                ) as rds:
                    answer = await rds.describe_reserved_db_instances_offerings(
                        DBInstanceClass=request.resource_type,
                        Duration=str(duration),
                        ProductDescription=rds_product(request.engine),
                        OfferingType=offering_type,
                        MultiAZ=bool(request.details.get("multi_az", False)),
                    )
                offerings = answer.get("ReservedDBInstancesOfferings", [])
                key = "ReservedDBInstancesOfferingId"
            elif request.service == "elasticache":
                async with self._client(
                    clients, credentials, settings, "elasticache", request.region
                ) as elasticache:
                    answer = await elasticache.describe_reserved_cache_nodes_offerings(
                        CacheNodeType=request.resource_type,
                        Duration=str(duration),
                        ProductDescription=request.engine or "redis",
                        OfferingType=offering_type,
                    )
                offerings = answer.get("ReservedCacheNodesOfferings", [])
                key = "ReservedCacheNodesOfferingId"
            elif request.service == "opensearch":
                async with self._client(
                    clients, credentials, settings, "opensearch", request.region
                ) as opensearch:
                    offerings = [
                        offering
                        for offering in await _all_opensearch_offerings(opensearch)
                        if offering.get("InstanceType") == request.resource_type
                        and int(offering.get("Duration", 0)) == duration
                        and offering.get("PaymentOption") == OPENSEARCH_PAYMENTS[request.payment]
                    ]
                key = "ReservedInstanceOfferingId"
            elif request.service == "redshift":
                async with self._client(
                    clients, credentials, settings, "redshift", request.region
                ) as redshift:
                    offerings = [
                        offering
                        for offering in await _all_pages(
                            redshift.describe_reserved_node_offerings, "ReservedNodeOfferings"
                        )
                        if offering.get("NodeType") == request.resource_type
                        and int(offering.get("Duration", 0)) == duration
                        and offering.get("OfferingType") == offering_type
                    ]
                key = "ReservedNodeOfferingId"
            elif request.service == "memorydb":
                async with self._client(
                    clients, credentials, settings, "memorydb", request.region
                ) as memorydb:
                    answer = await memorydb.describe_reserved_nodes_offerings(
                        NodeType=request.resource_type,
                        Duration=str(duration),
                        OfferingType=offering_type,
                    )
                offerings = answer.get("ReservedNodesOfferings", [])
                key = "ReservedNodesOfferingId"
            else:
                raise ProviderError(
                    f"buying {request.service} is not supported yet", code="unsupported_service"
                )
        except ClientError as exc:
            code, message = _code(exc)
            raise ProviderError(
                f"AWS refused the offerings lookup ({code}): {message}", code="aws_offerings"
            ) from None
        except BotoCoreError as exc:
            raise sdk_error(exc, "the offerings lookup") from None
        if not offerings:
            raise ProviderError(
                f"no {request.service} offering for {request.resource_type} "
                f"({request.term} year, {request.payment}) in {request.region}",
                code="no_offering",
            )
        return str(offerings[0][key])

    async def purchase(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult:
        """Buy the line once (see the module table for each service's idempotency)."""
        if not request.offering_id:
            raise PurchaseRejected("the line has no offering", code="no_offering")
        credentials = await self._credentials(auth, settings)
        if request.service == "savings-plans":
            return await self._savings_plan(clients, credentials, settings, request)
        if request.service in RESERVATION_ID_APIS:
            return await self._reserve(clients, credentials, settings, request)
        if request.service == "ec2":
            return await self._ec2(clients, credentials, settings, request)
        if request.service == "opensearch":
            return await self._opensearch(clients, credentials, settings, request)
        if request.service == "redshift":
            return await self._redshift(clients, credentials, settings, request)
        raise PurchaseRejected(
            f"buying {request.service} is not supported yet", code="unsupported_service"
        )

    async def _savings_plan(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult:
        params: dict[str, Any] = {
            "savingsPlanOfferingId": request.offering_id,
            "commitment": format(request.count.normalize(), "f"),
            "clientToken": request.idempotency_key,
        }
        if request.payment != Payment.no_upfront and request.upfront_cost > 0:
            params["upfrontPaymentAmount"] = format(
                request.upfront_cost.quantize(Decimal("0.01")), "f"
            )
        with _purchase_call("CreateSavingsPlan"):
            async with self._client(clients, credentials, settings, "savingsplans", None) as sp:
                answer = await sp.create_savings_plan(**params)
        return PurchaseResult(provider_commitment_id=str(answer["savingsPlanId"]))

    async def _reserve(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult:
        """RDS, ElastiCache, MemoryDB: the reservation id is ours, so a repeat is detected."""
        api = RESERVATION_ID_APIS[request.service]
        reservation = reservation_id(request)
        with _purchase_call(api.purchase):
            async with self._client(
                clients, credentials, settings, api.client, request.region
            ) as client:
                try:
                    answer = await getattr(client, api.purchase)(
                        **{
                            api.offering_param: request.offering_id,
                            api.id_param: reservation,
                            api.count_param: int(request.count),
                        }
                    )
                except ClientError as exc:
                    if _code(exc)[0] not in api.exists_codes:
                        raise
                    # Our own earlier attempt: the id is derived from this line's key.
                    return PurchaseResult(provider_commitment_id=reservation)
        return PurchaseResult(provider_commitment_id=str(answer[api.result][api.id_param]))

    async def _ec2(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult:
        with _purchase_call("PurchaseReservedInstancesOffering"):
            async with self._client(clients, credentials, settings, "ec2", request.region) as ec2:
                answer = await ec2.purchase_reserved_instances_offering(
                    ReservedInstancesOfferingId=request.offering_id,
                    InstanceCount=int(request.count),
                )
                ri_id = str(answer["ReservedInstancesId"])
                await self._tag(ec2, ri_id, request)
        return PurchaseResult(provider_commitment_id=ri_id)

    async def _opensearch(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult:
        """Name the reservation after the key; look for that name first (a repeat buys nothing)."""
        name = reservation_id(request)
        with _purchase_call("PurchaseReservedInstanceOffering"):
            async with self._client(
                clients, credentials, settings, "opensearch", request.region
            ) as opensearch:
                existing = await _opensearch_by_name(opensearch, name)
                if existing is not None:
                    return existing
                answer = await opensearch.purchase_reserved_instance_offering(
                    ReservedInstanceOfferingId=request.offering_id,
                    ReservationName=name,
                    InstanceCount=int(request.count),
                )
        return PurchaseResult(provider_commitment_id=str(answer["ReservedInstanceId"]))

    async def _redshift(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult:
        with _purchase_call("PurchaseReservedNodeOffering"):
            async with self._client(
                clients, credentials, settings, "redshift", request.region
            ) as redshift:
                answer = await redshift.purchase_reserved_node_offering(
                    ReservedNodeOfferingId=request.offering_id, NodeCount=int(request.count)
                )
        return PurchaseResult(provider_commitment_id=str(answer["ReservedNode"]["ReservedNodeId"]))

    async def _tag(self, ec2: Any, ri_id: str, request: PurchaseRequest) -> None:
        # Best effort: an untagged RI is still matched by reconcile (type, count, start time).
        try:
            await ec2.create_tags(
                Resources=[ri_id], Tags=[{"Key": TAG_KEY, "Value": request.idempotency_key}]
            )
        except (ClientError, BotoCoreError):
            return

    async def reconcile(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult | None:
        """What the cloud holds for the line, or None when it bought nothing."""
        credentials = await self._credentials(auth, settings)
        try:
            if request.service == "savings-plans":
                # Same clientToken → the same plan: completing the call is the lookup.
                return await self._savings_plan(clients, credentials, settings, request)
            if request.service in RESERVATION_ID_APIS:
                return await self._reconcile_reservation(clients, credentials, settings, request)
            if request.service == "ec2":
                return await self._reconcile_ec2(clients, credentials, settings, request)
            if request.service == "redshift":
                return await self._reconcile_redshift(clients, credentials, settings, request)
            if request.service == "opensearch":
                async with self._client(
                    clients, credentials, settings, "opensearch", request.region
                ) as opensearch:
                    return await _opensearch_by_name(opensearch, reservation_id(request))
        except ClientError as exc:
            code, message = _code(exc)
            raise ProviderError(
                f"AWS refused the reconcile lookup ({code}): {message}", code="aws_reconcile"
            ) from None
        except BotoCoreError as exc:
            raise sdk_error(exc, "the reconcile lookup") from None
        return None

    async def _reconcile_reservation(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult | None:
        api = RESERVATION_ID_APIS[request.service]
        reservation = reservation_id(request)
        async with self._client(
            clients, credentials, settings, api.client, request.region
        ) as client:
            try:
                answer = await getattr(client, api.describe)(**{api.id_param: reservation})
            except ClientError as exc:
                if _code(exc)[0] in api.missing_codes:
                    return None
                raise
        if answer.get(api.describe_list):
            return PurchaseResult(provider_commitment_id=reservation)
        return None

    async def _reconcile_redshift(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult | None:
        """No token and no tag on purchase: a node of the line's type and count, started after
        the claim and not attributed to another line."""
        known = set(request.details.get("known_commitment_ids") or [])
        since = (request.claimed_at - SKEW) if request.claimed_at else None
        async with self._client(
            clients, credentials, settings, "redshift", request.region
        ) as redshift:
            nodes = await _all_pages(redshift.describe_reserved_nodes, "ReservedNodes")
        candidates = [
            node
            for node in nodes
            if str(node["ReservedNodeId"]) not in known
            and node.get("NodeType") == request.resource_type
            and int(node.get("NodeCount", 0)) == int(request.count)
            and (since is None or node.get("StartTime") is None or node["StartTime"] >= since)
        ]
        if not candidates:
            return None
        chosen = min(candidates, key=lambda node: str(node.get("StartTime") or ""))
        return PurchaseResult(provider_commitment_id=str(chosen["ReservedNodeId"]))

    async def _reconcile_ec2(
        self,
        clients: ProviderClients,
        credentials: AwsSessionCredentials,
        settings: Settings,
        request: PurchaseRequest,
    ) -> PurchaseResult | None:
        known = set(request.details.get("known_commitment_ids") or [])
        async with self._client(clients, credentials, settings, "ec2", request.region) as ec2:
            answer = await ec2.describe_reserved_instances(
                Filters=[{"Name": "instance-type", "Values": [request.resource_type]}]
            )
            instances = answer.get("ReservedInstances", [])
            for ri in instances:
                tags = {t.get("Key"): t.get("Value") for t in ri.get("Tags", [])}
                if tags.get(TAG_KEY) == request.idempotency_key:
                    return PurchaseResult(provider_commitment_id=str(ri["ReservedInstancesId"]))
            since = (request.claimed_at - SKEW) if request.claimed_at else None
            candidates = [
                ri
                for ri in instances
                if TAG_KEY not in {t.get("Key") for t in ri.get("Tags", [])}
                and str(ri["ReservedInstancesId"]) not in known
                and ri.get("InstanceType") == request.resource_type
                and int(ri.get("InstanceCount", 0)) == int(request.count)
                and (since is None or ri.get("Start") is None or ri["Start"] >= since)
            ]
            if not candidates:
                return None
            chosen = min(candidates, key=lambda ri: str(ri.get("Start") or ""))
            ri_id = str(chosen["ReservedInstancesId"])
            await self._tag(ec2, ri_id, request)
            return PurchaseResult(provider_commitment_id=ri_id)
