"""A test double of the Collector Protocol, for the run machinery tests (no cloud involved).

Behaviour is set per account external id: what it returns, how long it takes, what it raises.
It records which account identity each call acted as and the peak number in flight.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from api.config import Settings
from api.enums import Provider
from api.providers.base import (
    AccountAuth,
    CommitmentData,
    ProviderError,
    RecommendationData,
    SweepResult,
)
from api.providers.clients import ProviderClients
from api.service_config.merge import EffectiveServiceConfig


def rec(
    *,
    service: str = "ec2",
    region: str = "us-east-1",
    resource_type: str = "m5.large",
    engine: str = "",
    term: int = 1,
    payment: str = "no-upfront",
    variant: str = "Linux/UNIX|default|standard",
    count: str = "1",
    savings: str = "10.00",
    upfront: str = "0",
    currency: str = "USD",
) -> RecommendationData:
    return RecommendationData(
        service=service,
        region=region,
        resource_type=resource_type,
        engine=engine,
        term=term,
        payment=payment,
        variant=variant,
        count=Decimal(count),
        upfront_cost=Decimal(upfront),
        recurring_monthly_cost=Decimal("50"),
        on_demand_monthly_cost=Decimal("100"),
        estimated_monthly_savings=Decimal(savings),
        savings_percent=Decimal(savings) * 100 / Decimal("100"),
        currency=currency,
        details={"source": "fake"},
    )


def commitment(
    commitment_id: str = "ri-1", *, state: str = "active", service: str = "ec2"
) -> CommitmentData:
    return CommitmentData(
        service=service,
        provider_commitment_id=commitment_id,
        region="us-east-1",
        resource_type="m5.large",
        engine="",
        count=Decimal("2"),
        term=1,
        payment="all-upfront",
        start=None,
        end=None,
        state=state,
        upfront_cost=Decimal("1200"),
        recurring_monthly_cost=Decimal("0"),
        currency="USD",
    )


@dataclass
class Behaviour:
    recommendations: list[RecommendationData] = field(default_factory=lambda: [rec()])
    commitments: list[CommitmentData] | None = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    error: str | None = None
    hang: bool = False
    # Finish only once the test sets it (works across threads: a server in its own loop).
    gate: threading.Event | None = None
    # Finish only once this many sweeps are in flight together (a barrier, same loop).
    barrier: int | None = None


class FakeCloud:
    """Every provider's collector at once; ``collector_for`` plugs into the run context."""

    def __init__(self, default: Behaviour | None = None) -> None:
        self.default = default or Behaviour()
        self.behaviour: dict[str, Behaviour] = {}
        self.calls: list[str] = []  # the external id each call acted as
        self.in_flight = 0
        self.peak = 0
        self._peak_changed: asyncio.Condition | None = None

    async def wait_for_in_flight(self, count: int) -> None:
        if self._peak_changed is None:
            self._peak_changed = asyncio.Condition()
        async with self._peak_changed:
            await self._peak_changed.wait_for(lambda: self.peak >= count)

    async def _entered(self) -> None:
        if self._peak_changed is None:
            self._peak_changed = asyncio.Condition()
        async with self._peak_changed:
            self._peak_changed.notify_all()

    def set(self, external_id: str, behaviour: Behaviour) -> None:
        self.behaviour[external_id] = behaviour

    def collector_for(self, provider: Provider) -> FakeCollector:
        return FakeCollector(provider, self)


class FakeCollector:
    def __init__(self, provider: Provider, cloud: FakeCloud) -> None:
        self.provider = provider
        self.cloud = cloud

    async def collect(
        self,
        auth: AccountAuth,
        config: Sequence[EffectiveServiceConfig],
        settings: Settings,
        clients: ProviderClients,
    ) -> SweepResult:
        cloud = self.cloud
        external_id = auth.account.external_id
        behaviour = cloud.behaviour.get(external_id, cloud.default)
        cloud.calls.append(external_id)
        cloud.in_flight += 1
        cloud.peak = max(cloud.peak, cloud.in_flight)
        await cloud._entered()
        try:
            if behaviour.barrier is not None:
                await cloud.wait_for_in_flight(behaviour.barrier)
            if behaviour.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(behaviour.delay_s)
            if behaviour.gate is not None:
                # A threading.Event (set from another thread): wait for it off the loop.
                await asyncio.to_thread(behaviour.gate.wait)
            if behaviour.error is not None:
                raise ProviderError(behaviour.error, code="fake")
            return SweepResult(
                recommendations=list(behaviour.recommendations),
                commitments=behaviour.commitments,
                warnings=list(behaviour.warnings),
                caller_identity=f"fake:{external_id}",
            )
        finally:
            cloud.in_flight -= 1
