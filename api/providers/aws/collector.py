"""AWS collection: Cost Explorer recommendations and the reserved/Savings Plans inventory.

One account's sweep, in order, all with the account's own session (resolved through its
auth mode by :func:`~api.providers.aws.client.resolve_session`; the server's ambient
identity only signs the ``AssumeRole`` of ``role_arn`` mode):

1. ``sts:GetCallerIdentity`` - its ``Account`` must equal ``external_id``;
2. ``ce:GetReservationPurchaseRecommendation`` per enabled RI service (ec2, rds,
   elasticache, opensearch, redshift, memorydb) with the configured term and payment,
   every page (``NextPageToken``);
3. ``ce:GetSavingsPlansPurchaseRecommendation`` for ``COMPUTE_SP`` and ``EC2_INSTANCE_SP``
   when ``savings-plans`` is enabled, every page;
4. the inventory: ``DescribeReservedInstances`` (EC2), ``DescribeReservedDBInstances``,
   ``DescribeReservedCacheNodes``, Redshift and MemoryDB ``DescribeReservedNodes``,
   OpenSearch ``DescribeReservedInstances`` for each enabled service, in the service's
   ``include_regions`` (else the server's ``CUDLY_AWS_REGION`` plus every region a
   recommendation named), and ``DescribeSavingsPlans`` (active).

Calls run one after another over the process's shared clients (one per service and region,
:class:`~api.providers.clients.ProviderClients`), each call signed with this account's
credentials. Throttling is retried (RetryPolicy) inside ``CUDLY_ACCOUNT_TIMEOUT_S``.
An inventory call the identity may not make becomes a warning (that part is missing from
``commitments``; ``None`` when no part could be read); any other inventory failure also
becomes a warning with ``commitments=None``, so a collector never deletes what it could not
read. Any failure of steps 1-3 raises a ProviderError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError

from api.config import Settings
from api.enums import Payment, Provider
from api.providers.aws import mapper
from api.providers.aws.client import _code, _describe, _signer_error, resolve_session
from api.providers.base import (
    AccountAuth,
    CommitmentData,
    ProviderError,
    RecommendationData,
    SweepResult,
    ensure_identity,
    sum_by_key,
)
from api.providers.clients import AwsAccountClients, ProviderClients
from api.providers.filters import allows, enabled_services, region_allowed
from api.providers.paging import aws_pages
from api.providers.retry import RetryPolicy, aws_call, malformed
from api.service_config.merge import EffectiveServiceConfig

LOOKBACK = "THIRTY_DAYS"
OFFERING_CLASS = "STANDARD"
# What a botocore call may raise besides our own ProviderError (a parser error is not a
# BotoCoreError).
SDK_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"}
_ENDPOINT_VARS = {
    "sts": "AWS_ENDPOINT_URL_STS",
    "ce": "AWS_ENDPOINT_URL_COST_EXPLORER",
    "ec2": "AWS_ENDPOINT_URL_EC2",
    "rds": "AWS_ENDPOINT_URL_RDS",
    "elasticache": "AWS_ENDPOINT_URL_ELASTICACHE",
    "redshift": "AWS_ENDPOINT_URL_REDSHIFT",
    "memorydb": "AWS_ENDPOINT_URL_MEMORYDB",
    "opensearch": "AWS_ENDPOINT_URL_OPENSEARCH",
    "savingsplans": "AWS_ENDPOINT_URL_SAVINGSPLANS",
}

# part → (botocore client, operation method, IAM action, list key, input token, output token)
INVENTORY: dict[str, tuple[str, str, str, str, str | None, str | None]] = {
    "ec2": (
        "ec2",
        "describe_reserved_instances",
        "ec2:DescribeReservedInstances",
        "ReservedInstances",
        None,
        None,
    ),
    "rds": (
        "rds",
        "describe_reserved_db_instances",
        "rds:DescribeReservedDBInstances",
        "ReservedDBInstances",
        "Marker",
        "Marker",
    ),
    "elasticache": (
        "elasticache",
        "describe_reserved_cache_nodes",
        "elasticache:DescribeReservedCacheNodes",
        "ReservedCacheNodes",
        "Marker",
        "Marker",
    ),
    "redshift": (
        "redshift",
        "describe_reserved_nodes",
        "redshift:DescribeReservedNodes",
        "ReservedNodes",
        "Marker",
        "Marker",
    ),
    "memorydb": (
        "memorydb",
        "describe_reserved_nodes",
        "memorydb:DescribeReservedNodes",
        "ReservedNodes",
        "NextToken",
        "NextToken",
    ),
    "opensearch": (
        "opensearch",
        "describe_reserved_instances",
        "es:DescribeReservedInstances",
        "ReservedInstances",
        "NextToken",
        "NextToken",
    ),
}


def _failure(exc: BaseException, action: str, service: str, signer: str) -> ProviderError:
    """A secret-free, actionable message for a failed call of ``action``."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, ClientError):
        code, message = _code(exc)
        known = _signer_error(code, signer)
        if known is not None:
            return known
        if code in _DENIED:
            return ProviderError(
                f"AWS refused {action} for {signer} ({code}): allow {action} to the "
                "account's identity (CUDly's IAM policy)",
                code="aws_access_denied",
            )
        return ProviderError(f"AWS refused {action} ({code}): {message}", code="aws_error")
    if isinstance(exc, ResponseParserError):
        return malformed(f"AWS {action}")
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return ProviderError(
            f"could not reach AWS {service} ({type(exc).__name__}): check the server's network "
            f"access to AWS (proxy, firewall, {_ENDPOINT_VARS.get(service, 'AWS_ENDPOINT_URL')})",
            code="aws_unreachable",
        )
    return ProviderError(f"AWS {action} failed ({type(exc).__name__})", code="aws_error")


class AwsCollector:
    """Recommendations (Cost Explorer) and inventory of one AWS account."""

    provider = Provider.aws

    async def collect(
        self,
        auth: AccountAuth,
        config: Sequence[EffectiveServiceConfig],
        settings: Settings,
        clients: ProviderClients,
    ) -> SweepResult:
        """The account's sweep (see the module docstring). Raises ProviderError."""
        policy = RetryPolicy.within(settings.scheduler.account_timeout_s)
        signer = _describe(auth)
        credentials = await resolve_session(auth, settings)
        services = enabled_services(config, Provider.aws)
        async with clients.aws_account(credentials) as aws:
            arn = await self._identity(aws, auth, policy, signer)
            found: list[RecommendationData] = []
            for service, ce_service in mapper.RI_SERVICES.items():
                if service in services:
                    found += await self._reservations(
                        aws, service, ce_service, services[service], policy, signer
                    )
            if mapper.SAVINGS_PLANS in services:
                for sp_type in mapper.SP_TYPES:
                    found += await self._savings_plans(
                        aws, sp_type, services[mapper.SAVINGS_PLANS], policy, signer
                    )
            commitments, warnings = await self._inventory(
                aws, services, found, settings, policy, signer
            )
        return SweepResult(
            recommendations=sum_by_key(found),
            commitments=commitments,
            warnings=warnings,
            caller_identity=arn,
        )

    async def _identity(
        self, aws: AwsAccountClients, auth: AccountAuth, policy: RetryPolicy, signer: str
    ) -> str:
        try:
            sts = await aws.client("sts")
            answer = await aws_call(policy, sts.get_caller_identity, what="sts:GetCallerIdentity")
        except SDK_ERRORS as exc:
            raise _failure(exc, "sts:GetCallerIdentity", "sts", signer) from None
        account_id = str(answer.get("Account", ""))
        ensure_identity(Provider.aws, auth.account.external_id, account_id, what="AWS account")
        return str(answer.get("Arn", account_id))

    async def _reservations(
        self,
        aws: AwsAccountClients,
        service: str,
        ce_service: str,
        config: EffectiveServiceConfig,
        policy: RetryPolicy,
        signer: str,
    ) -> list[RecommendationData]:
        term, payment = config.term.value, config.payment.value
        request: dict[str, Any] = {
            "Service": ce_service,
            "LookbackPeriodInDays": LOOKBACK,
            "TermInYears": mapper.CE_TERM[term],
            "PaymentOption": mapper.CE_PAYMENT[Payment(payment)],
        }
        if service == "ec2":
            request["ServiceSpecification"] = {
                "EC2Specification": {"OfferingClass": OFFERING_CLASS}
            }
        action = "ce:GetReservationPurchaseRecommendation"
        found: list[RecommendationData] = []
        try:
            ce = await aws.client("ce")
            async for page in aws_pages(
                ce.get_reservation_purchase_recommendation,
                request,
                policy=policy,
                what=f"{action} ({service})",
                token_in="NextPageToken",
            ):
                found += mapper.ri_recommendations(
                    service, page, term, Payment(payment), OFFERING_CLASS
                )
        except ClientError as exc:
            if _code(exc)[0] == "DataUnavailableException":
                return []  # not enough usage data yet: no recommendations
            raise _failure(exc, action, "ce", signer) from None
        except (BotoCoreError, ResponseParserError) as exc:
            raise _failure(exc, action, "ce", signer) from None
        return [item for item in found if allows(config, item)]

    async def _savings_plans(
        self,
        aws: AwsAccountClients,
        sp_type: str,
        config: EffectiveServiceConfig,
        policy: RetryPolicy,
        signer: str,
    ) -> list[RecommendationData]:
        term, payment = config.term.value, Payment(config.payment.value)
        request: dict[str, Any] = {
            "SavingsPlansType": sp_type,
            "TermInYears": mapper.CE_TERM[term],
            "PaymentOption": mapper.CE_PAYMENT[payment],
            "LookbackPeriodInDays": LOOKBACK,
        }
        action = "ce:GetSavingsPlansPurchaseRecommendation"
        found: list[RecommendationData] = []
        try:
            ce = await aws.client("ce")
            async for page in aws_pages(
                ce.get_savings_plans_purchase_recommendation,
                request,
                policy=policy,
                what=f"{action} ({sp_type})",
                token_in="NextPageToken",
            ):
                found += mapper.sp_recommendations(sp_type, page, term, payment)
        except ClientError as exc:
            if _code(exc)[0] == "DataUnavailableException":
                return []
            raise _failure(exc, action, "ce", signer) from None
        except (BotoCoreError, ResponseParserError) as exc:
            raise _failure(exc, action, "ce", signer) from None
        # Compute Savings Plans have no region: the region filters apply to EC2 instance ones.
        return [
            item
            for item in found
            if allows(config, item) or (not item.region and _types_ok(config, item))
        ]

    async def _inventory(
        self,
        aws: AwsAccountClients,
        services: dict[str, EffectiveServiceConfig],
        found: list[RecommendationData],
        settings: Settings,
        policy: RetryPolicy,
        signer: str,
    ) -> tuple[list[CommitmentData] | None, list[str]]:
        commitments: list[CommitmentData] = []
        warnings: list[str] = []
        read_any = failed = False
        for part, (client_name, method, action, list_key, token_in, token_out) in INVENTORY.items():
            if part not in services:
                continue
            for region in _regions(part, services[part], found, settings):
                try:
                    commitments += await self._reserved(
                        aws,
                        part,
                        client_name,
                        method,
                        list_key,
                        token_in,
                        token_out,
                        region,
                        policy,
                    )
                    read_any = True
                except (*SDK_ERRORS, ProviderError) as exc:
                    denied = isinstance(exc, ClientError) and _code(exc)[0] in _DENIED
                    warnings.append(_inventory_warning(exc, action, client_name, signer, denied))
                    failed = failed or not denied
                    break
        if mapper.SAVINGS_PLANS in services:
            action = "savingsplans:DescribeSavingsPlans"
            try:
                commitments += await self._savings_plan_inventory(aws, policy)
                read_any = True
            except (*SDK_ERRORS, ProviderError) as exc:
                denied = isinstance(exc, ClientError) and _code(exc)[0] in _DENIED
                warnings.append(_inventory_warning(exc, action, "savingsplans", signer, denied))
                failed = failed or not denied
        if failed or (warnings and not read_any):
            return None, warnings
        return commitments, warnings

    async def _reserved(
        self,
        aws: AwsAccountClients,
        part: str,
        client_name: str,
        method: str,
        list_key: str,
        token_in: str | None,
        token_out: str | None,
        region: str,
        policy: RetryPolicy,
    ) -> list[CommitmentData]:
        client = await aws.client(client_name, region=region)
        call = getattr(client, method)
        what = f"{client_name} {method} in {region}"
        found: list[CommitmentData] = []
        if token_in is None:  # EC2 DescribeReservedInstances does not page
            request = {"Filters": [{"Name": "state", "Values": ["active", "payment-pending"]}]}
            page = await aws_call(policy, lambda: call(**request), what=what)
            items = page.get(list_key) or []
            if not isinstance(items, list):
                raise malformed(what)
            return [mapper.reserved_commitment(part, raw, region) for raw in items]
        async for page in aws_pages(
            call, {}, policy=policy, what=what, token_in=token_in, token_out=token_out
        ):
            items = page.get(list_key) or []
            if not isinstance(items, list):
                raise malformed(what)
            found += [mapper.reserved_commitment(part, raw, region) for raw in items]
        return [c for c in found if c.state not in {"retired"}]

    async def _savings_plan_inventory(
        self, aws: AwsAccountClients, policy: RetryPolicy
    ) -> list[CommitmentData]:
        client = await aws.client("savingsplans")
        found: list[CommitmentData] = []
        async for page in aws_pages(
            client.describe_savings_plans,
            {"states": ["active", "queued", "payment-pending"]},
            policy=policy,
            what="savingsplans:DescribeSavingsPlans",
            token_in="nextToken",
        ):
            items = page.get("savingsPlans") or []
            if not isinstance(items, list):
                raise malformed("savingsplans:DescribeSavingsPlans")
            found += [mapper.savings_plan_commitment(raw) for raw in items]
        return found


def _types_ok(config: EffectiveServiceConfig, item: RecommendationData) -> bool:
    include = {v.lower() for v in config.include_types.value}
    exclude = {v.lower() for v in config.exclude_types.value}
    value = item.resource_type.lower()
    return (not include or value in include) and value not in exclude


def _regions(
    part: str,
    config: EffectiveServiceConfig,
    found: list[RecommendationData],
    settings: Settings,
) -> list[str]:
    if config.include_regions.value:
        candidates = set(config.include_regions.value)
    else:
        candidates = {settings.clouds.aws_region} | {
            r.region for r in found if r.service == part and r.region
        }
    return sorted(r for r in candidates if region_allowed(config, r))


def _inventory_warning(
    exc: BaseException, action: str, service: str, signer: str, denied: bool
) -> str:
    if denied:
        return (
            f"inventory incomplete: {signer} may not call {action}; allow it to list the "
            "account's existing commitments"
        )
    return f"inventory not refreshed: {_failure(exc, action, service, signer).message}"
