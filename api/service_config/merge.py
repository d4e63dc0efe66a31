"""The one merge of a global service default with an account's sparse override (SPEC §4).

Collection, plan execution and the effective-config endpoint all call :func:`merge`, so an
account is configured the same way everywhere. Rules:

- an override field that is ``None`` (SQL ``NULL``) inherits the global value;
- any other value wins, including an empty list ``[]`` ("override with nothing") and a ramp
  schedule of ``{"steps": []}`` ("no ramp", even when the global default has one);
- lists replace, they never merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from api.enums import ConfigSource, Payment, Provider
from api.models import AccountServiceOverride, ServiceConfig
from api.models.accounts import SERVICE_LIST_FIELDS

T = TypeVar("T")

SCALAR_FIELDS = ("enabled", "term", "payment", "coverage", "ramp_schedule")
LIST_FIELDS = SERVICE_LIST_FIELDS
# Every configurable field, in the order responses list them.
CONFIG_FIELDS = SCALAR_FIELDS + LIST_FIELDS

# What the initial migration seeds (SPEC §4); used when a global row is missing.
DEFAULT_ENABLED = True
DEFAULT_TERM = 3
DEFAULT_PAYMENT = Payment.no_upfront
DEFAULT_COVERAGE = Decimal("80")


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A merged value and its provenance."""

    value: T
    source: ConfigSource


@dataclass(frozen=True)
class EffectiveServiceConfig:
    """The configuration one account applies to one service, each field with its source."""

    provider: Provider
    service: str
    enabled: Sourced[bool]
    term: Sourced[int]
    payment: Sourced[Payment]
    coverage: Sourced[Decimal]
    ramp_schedule: Sourced[dict[str, Any] | None]
    include_regions: Sourced[tuple[str, ...]]
    exclude_regions: Sourced[tuple[str, ...]]
    include_types: Sourced[tuple[str, ...]]
    exclude_types: Sourced[tuple[str, ...]]
    include_engines: Sourced[tuple[str, ...]]
    exclude_engines: Sourced[tuple[str, ...]]

    @property
    def overridden_fields(self) -> tuple[str, ...]:
        """Names of the fields whose value comes from the account's override."""
        return tuple(
            name for name in CONFIG_FIELDS if getattr(self, name).source is ConfigSource.override
        )


def default_service_config(provider: Provider, service: str) -> ServiceConfig:
    """A transient global row holding the seeded defaults (for a row missing from the table)."""
    return ServiceConfig(
        provider=provider.value,
        service=service,
        enabled=DEFAULT_ENABLED,
        term=DEFAULT_TERM,
        payment=DEFAULT_PAYMENT.value,
        coverage=DEFAULT_COVERAGE,
        ramp_schedule=None,
        include_regions=[],
        exclude_regions=[],
        include_types=[],
        exclude_types=[],
        include_engines=[],
        exclude_engines=[],
    )


def _pick(global_value: T, override_value: T | None) -> Sourced[T]:
    if override_value is None:
        return Sourced(global_value, ConfigSource.global_)
    return Sourced(override_value, ConfigSource.override)


def _pick_list(
    global_value: list[str] | None, override_value: list[str] | None
) -> Sourced[tuple[str, ...]]:
    # `[]` is a value ("override with empty"); only None inherits. Lists replace, never merge.
    if override_value is None:
        return Sourced(tuple(global_value or ()), ConfigSource.global_)
    return Sourced(tuple(override_value), ConfigSource.override)


def merge(
    global_config: ServiceConfig, override: AccountServiceOverride | None
) -> EffectiveServiceConfig:
    """Merge a global default with an optional sparse override: override when set, else global.

    Pure: reads attributes only, touches no session and no I/O.
    """
    if override is not None and (
        override.provider != global_config.provider or override.service != global_config.service
    ):
        raise ValueError("override and global config name different services")

    def field(name: str) -> Any:
        return getattr(override, name) if override is not None else None

    return EffectiveServiceConfig(
        provider=Provider(global_config.provider),
        service=global_config.service,
        enabled=_pick(bool(global_config.enabled), field("enabled")),
        term=_pick(int(global_config.term), field("term")),
        payment=_pick_payment(global_config.payment, field("payment")),
        coverage=_pick(Decimal(global_config.coverage), _decimal_or_none(field("coverage"))),
        ramp_schedule=_pick_ramp(global_config.ramp_schedule, field("ramp_schedule")),
        include_regions=_pick_list(global_config.include_regions, field("include_regions")),
        exclude_regions=_pick_list(global_config.exclude_regions, field("exclude_regions")),
        include_types=_pick_list(global_config.include_types, field("include_types")),
        exclude_types=_pick_list(global_config.exclude_types, field("exclude_types")),
        include_engines=_pick_list(global_config.include_engines, field("include_engines")),
        exclude_engines=_pick_list(global_config.exclude_engines, field("exclude_engines")),
    )


def _pick_payment(global_value: str, override_value: str | None) -> Sourced[Payment]:
    return _pick(
        Payment(global_value), Payment(override_value) if override_value is not None else None
    )


def _decimal_or_none(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _pick_ramp(
    global_value: dict[str, Any] | None, override_value: dict[str, Any] | None
) -> Sourced[dict[str, Any] | None]:
    if override_value is None:
        return Sourced(global_value, ConfigSource.global_)
    return Sourced(override_value, ConfigSource.override)
