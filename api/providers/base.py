"""What every provider offers, one Protocol per capability, and the values they exchange.

Capabilities: the connectivity test (``POST /api/accounts/{id}/test``), member discovery
and collection (recommendations + commitments inventory). Purchase gets its own Protocol
when it is built, so a provider is registered for the capabilities it has.

Providers receive an :class:`AccountAuth`: a frozen :class:`AccountSnapshot` of the account
row (never the ORM row: no lazy loads, no session behind it) plus its *decrypted*
credentials (and, for AWS bastion mode, the bastion's own :class:`AccountAuth`). It lives
only for the call that needs it and renders as ``[REDACTED]``. They answer with
provider-neutral dataclasses holding ``Decimal`` money.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from api.config import Settings
from api.enums import Provider

if TYPE_CHECKING:
    from api.credentials.schemas import CredentialsIn
    from api.models import CloudAccount
    from api.providers.clients import ProviderClients
    from api.service_config.merge import EffectiveServiceConfig


class ProviderError(Exception):
    """A cloud call failed in a way the user can act on.

    ``message`` says what went wrong and what to do, and never contains a secret (the
    providers build it from error codes and identifiers, never from credential material).
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ConnectivityResult:
    """Outcome of a connectivity test: the identity the cloud saw, or what to fix."""

    ok: bool
    caller_identity: str | None = None
    error: str | None = None

    @classmethod
    def success(cls, caller_identity: str) -> ConnectivityResult:
        return cls(ok=True, caller_identity=caller_identity)

    @classmethod
    def failure(cls, error: str) -> ConnectivityResult:
        return cls(ok=False, error=error)


@dataclass(frozen=True)
class AccountSnapshot:
    """The fields of a ``cloud_accounts`` row that providers need, copied out of the session.

    Safe to hand to a task that outlives the transaction it was read in.
    """

    id: uuid.UUID
    provider: Provider
    external_id: str
    name: str
    enabled: bool = True
    aws_auth_mode: str | None = None
    aws_role_arn: str | None = None
    aws_external_id: str | None = None
    aws_bastion_id: uuid.UUID | None = None
    azure_subscription_id: str | None = None
    azure_tenant_id: str | None = None
    azure_client_id: str | None = None
    azure_auth_mode: str | None = None
    gcp_project_id: str | None = None
    gcp_client_email: str | None = None
    gcp_auth_mode: str | None = None

    @classmethod
    def of(cls, account: CloudAccount) -> AccountSnapshot:
        """Copy the provider-relevant columns of ``account`` (reads loaded attributes only)."""
        return cls(
            id=account.id,
            provider=Provider(account.provider),
            external_id=account.external_id,
            name=account.name,
            enabled=bool(account.enabled),
            aws_auth_mode=account.aws_auth_mode,
            aws_role_arn=account.aws_role_arn,
            aws_external_id=account.aws_external_id,
            aws_bastion_id=account.aws_bastion_id,
            azure_subscription_id=account.azure_subscription_id,
            azure_tenant_id=account.azure_tenant_id,
            azure_client_id=account.azure_client_id,
            azure_auth_mode=account.azure_auth_mode,
            gcp_project_id=account.gcp_project_id,
            gcp_client_email=account.gcp_client_email,
            gcp_auth_mode=account.gcp_auth_mode,
        )


@dataclass(frozen=True, repr=False)
class AccountAuth:
    """How to act as one account: its snapshot, its decrypted credentials, its bastion (AWS).

    ``fingerprint`` identifies the stored credential version (it changes whenever the
    credentials are replaced), so caches derived from them are never reused after a change.
    """

    account: AccountSnapshot
    credentials: CredentialsIn | None
    fingerprint: str | None
    bastion: AccountAuth | None = None

    def __repr__(self) -> str:
        return (
            f"AccountAuth(account={self.account.id}, provider={self.account.provider}, "
            f"credentials=[REDACTED], bastion={self.bastion!r})"
        )

    __str__ = __repr__


class ConnectivityTester(Protocol):
    """Confirms an account's credentials work, with the cheapest identity call the cloud has."""

    provider: Provider

    async def test_connectivity(self, auth: AccountAuth, settings: Settings) -> ConnectivityResult:
        """Resolve a session the account's auth mode prescribes and ask who we are.

        Raises :class:`ProviderError` for failures the user can fix.
        """
        ...


@dataclass(frozen=True)
class DiscoveredMember:
    """One account, subscription or project a discovery root can see."""

    external_id: str
    name: str
    state: str
    active: bool
    # Azure: the subscription's own tenant (members may sit in the root's tenant only).
    tenant_id: str | None = None


class Discoverer(Protocol):
    """Lists the member accounts under a discovery root (organisation, tenant, organisation)."""

    provider: Provider

    async def discover(self, auth: AccountAuth, settings: Settings) -> list[DiscoveredMember]:
        """Every member the root's identity can see, all pages. Raises :class:`ProviderError`."""
        ...


# --- collection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecommendationData:
    """One purchase recommendation, provider-neutral.

    The natural key is (service, region, resource_type, engine, term, payment, variant) within
    the account; collectors sum results sharing it (:func:`sum_by_key`). ``variant`` holds
    what else makes a different purchase: EC2 platform/tenancy/offering class, Savings Plans
    type and family, RDS deployment option, Azure scope ("" when nothing). ``details`` is
    provider-specific JSON (ids a purchaser needs, the raw identifiers).
    """

    service: str
    region: str
    resource_type: str
    engine: str
    term: int
    payment: str
    variant: str
    count: Decimal
    upfront_cost: Decimal
    recurring_monthly_cost: Decimal
    on_demand_monthly_cost: Decimal
    estimated_monthly_savings: Decimal
    savings_percent: Decimal
    currency: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str, int, str, str]:
        return (
            self.service,
            self.region,
            self.resource_type,
            self.engine,
            self.term,
            self.payment,
            self.variant,
        )


@dataclass(frozen=True)
class CommitmentData:
    """One commitment the account already holds (RI, Savings Plan, reservation, CUD)."""

    service: str
    provider_commitment_id: str
    region: str
    resource_type: str
    engine: str
    count: Decimal
    term: int | None
    payment: str | None
    start: datetime | None
    end: datetime | None
    state: str  # lower-case: "active" | "expired" | "pending" | "retired" ...
    upfront_cost: Decimal
    recurring_monthly_cost: Decimal
    currency: str
    utilization_percent: Decimal | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepResult:
    """Everything one account's sweep found.

    ``commitments`` is None when the inventory could not be read at all (``warnings`` say
    why); a partly readable inventory lists what was read, with a warning per missing part.
    """

    recommendations: list[RecommendationData]
    commitments: list[CommitmentData] | None
    warnings: list[str]
    caller_identity: str


class Collector(Protocol):
    """Recommendations and the commitments inventory of one account."""

    provider: Provider

    async def collect(
        self,
        auth: AccountAuth,
        config: Sequence[EffectiveServiceConfig],
        settings: Settings,
        clients: ProviderClients,
    ) -> SweepResult:
        """Confirm the identity is the account's, then sweep every enabled service, all pages.

        Raises :class:`ProviderError` (user-actionable, secret-free) on any failure of the
        recommendations part: a partial sweep raises rather than returning less.
        """
        ...


def ensure_identity(provider: Provider, expected: str, actual: str, *, what: str) -> None:
    """Refuse a session whose identity belongs to another account (SPEC §3), naming both."""
    if actual != expected:
        raise ProviderError(
            f"the credentials act as {what} {actual}, not the account's {expected}: "
            f"check the account's {provider.value} credentials and external_id",
            code="identity_mismatch",
        )


def sum_by_key(items: Sequence[RecommendationData]) -> list[RecommendationData]:
    """Merge recommendations sharing a natural key: money and counts summed, never dropped.

    The savings percent is recomputed from the sums (on-demand basis) when possible; the
    first item's details stay at the top level and every merged item's details are kept, in
    order, under ``details["merged"]``.
    """
    merged: dict[tuple[str, str, str, str, int, str, str], RecommendationData] = {}
    for item in items:
        seen = merged.get(item.key)
        if seen is None:
            merged[item.key] = item
            continue
        on_demand = seen.on_demand_monthly_cost + item.on_demand_monthly_cost
        savings = seen.estimated_monthly_savings + item.estimated_monthly_savings
        percent = (
            (savings * 100 / on_demand).quantize(Decimal("0.01"))
            if on_demand
            else max(seen.savings_percent, item.savings_percent)
        )
        parts = [*seen.details.get("merged", [seen.details]), item.details]
        merged[item.key] = RecommendationData(
            service=item.service,
            region=item.region,
            resource_type=item.resource_type,
            engine=item.engine,
            term=item.term,
            payment=item.payment,
            variant=item.variant,
            count=seen.count + item.count,
            upfront_cost=seen.upfront_cost + item.upfront_cost,
            recurring_monthly_cost=seen.recurring_monthly_cost + item.recurring_monthly_cost,
            on_demand_monthly_cost=on_demand,
            estimated_monthly_savings=savings,
            savings_percent=percent,
            currency=item.currency,
            details={**parts[0], "merged": parts},
        )
    return list(merged.values())


# --- purchases -------------------------------------------------------------------------------


class PurchaseRejected(ProviderError):
    """The cloud definitively refused a purchase: nothing was bought (safe to mark failed)."""


@dataclass(frozen=True)
class PurchaseRequest:
    """One purchase line as a purchaser needs it. ``idempotency_key`` was fixed when the line
    was created and is the provider token wherever the API has one."""

    idempotency_key: str
    service: str
    region: str
    resource_type: str
    engine: str
    variant: str
    term: int
    payment: str
    count: Decimal
    upfront_cost: Decimal
    recurring_monthly_cost: Decimal
    offering_id: str | None
    claimed_at: datetime | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PurchaseResult:
    """What the cloud holds for a line: the commitment it created."""

    provider_commitment_id: str
    expires_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Purchaser(Protocol):
    """Buys commitments for one account; every method acts with the account's own identity."""

    provider: Provider

    async def confirm_identity(
        self, auth: AccountAuth, settings: Settings, clients: ProviderClients
    ) -> str:
        """The identity the cloud sees; :class:`ProviderError` unless it is the account's."""
        ...

    async def find_offering(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> str | None:
        """The offering to buy (None when the API needs none); ProviderError when none fits."""
        ...

    async def purchase(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult:
        """Buy the line. :class:`PurchaseRejected` = nothing bought; any other exception = the
        outcome is unknown (the line stays ``purchasing`` until :meth:`reconcile` says)."""
        ...

    async def reconcile(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult | None:
        """After a crash: the commitment this line bought, or None when it bought nothing."""
        ...
