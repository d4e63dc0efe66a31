"""The one merge function (pure) and the effective-config functions other domains call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import SERVICES, ConfigSource, Payment, Provider
from api.models import AccountServiceOverride, ServiceConfig
from api.service_config.merge import (
    CONFIG_FIELDS,
    LIST_FIELDS,
    EffectiveServiceConfig,
    merge,
)
from api.service_config.service import effective_configs, effective_configs_for_accounts
from tests.service_config.helpers import make_account

GLOBAL = ConfigSource.global_
OVERRIDE = ConfigSource.override


def global_row(**fields: Any) -> ServiceConfig:
    values: dict[str, Any] = {
        "provider": "aws",
        "service": "ec2",
        "enabled": True,
        "term": 3,
        "payment": "no-upfront",
        "coverage": Decimal("80.00"),
        "ramp_schedule": None,
        **{name: [] for name in LIST_FIELDS},
    }
    values.update(fields)
    return ServiceConfig(**values)


def override_row(**fields: Any) -> AccountServiceOverride:
    values: dict[str, Any] = {"provider": "aws", "service": "ec2"}
    values.update(fields)
    return AccountServiceOverride(**values)


def test_no_override_is_the_global_value_everywhere() -> None:
    effective = merge(global_row(include_regions=["us-east-1"]), None)
    assert effective.provider is Provider.aws
    assert effective.service == "ec2"
    assert effective.term.value == 3
    assert effective.payment.value is Payment.no_upfront
    assert effective.coverage.value == Decimal("80")
    assert effective.include_regions.value == ("us-east-1",)
    assert all(getattr(effective, name).source is GLOBAL for name in CONFIG_FIELDS)
    assert effective.overridden_fields == ()


def test_a_partial_override_mixes_with_per_field_provenance() -> None:
    effective = merge(
        global_row(include_regions=["us-east-1", "eu-west-1"]),
        override_row(coverage=Decimal("60"), include_regions=["ap-south-1"]),
    )
    assert (effective.coverage.value, effective.coverage.source) == (Decimal("60"), OVERRIDE)
    # Lists replace, never merge.
    assert effective.include_regions.value == ("ap-south-1",)
    assert effective.include_regions.source is OVERRIDE
    assert (effective.term.value, effective.term.source) == (3, GLOBAL)
    assert effective.overridden_fields == ("coverage", "include_regions")


def test_an_empty_list_overrides_and_none_inherits() -> None:
    effective = merge(
        global_row(include_regions=["us-east-1"], exclude_types=["t3.micro"]),
        override_row(include_regions=[], exclude_types=None),
    )
    assert (effective.include_regions.value, effective.include_regions.source) == ((), OVERRIDE)
    assert (effective.exclude_types.value, effective.exclude_types.source) == (
        ("t3.micro",),
        GLOBAL,
    )


def test_a_ramp_override_with_no_steps_replaces_the_global_ramp() -> None:
    ramp = {"steps": [{"after_days": 0, "coverage": 20}]}
    effective = merge(global_row(ramp_schedule=ramp), override_row(ramp_schedule={"steps": []}))
    assert effective.ramp_schedule.value == {"steps": []}
    assert effective.ramp_schedule.source is OVERRIDE
    assert merge(global_row(ramp_schedule=ramp), override_row()).ramp_schedule.value == ramp


def test_false_is_a_value_not_inherit() -> None:
    effective = merge(global_row(enabled=True), override_row(enabled=False))
    assert (effective.enabled.value, effective.enabled.source) == (False, OVERRIDE)


def test_merge_refuses_an_override_of_another_service() -> None:
    with pytest.raises(ValueError, match="different services"):
        merge(global_row(), override_row(service="rds"))


# ---- property: each effective field is the override when set, else the global ---------

labels = st.from_regex(r"\A[a-z0-9][a-z0-9.-]{0,20}\Z")
label_lists = st.lists(labels, max_size=5, unique=True)
coverages = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
ramps = st.none() | st.builds(
    lambda days, covs: {
        "steps": [
            {"after_days": d, "coverage": float(c)}
            for d, c in zip(sorted(set(days)), covs, strict=False)
        ]
    },
    st.lists(st.integers(0, 3650), max_size=4),
    st.lists(coverages, min_size=4, max_size=4),
)
GLOBAL_VALUES = {
    "enabled": st.booleans(),
    "term": st.sampled_from([1, 3]),
    "payment": st.sampled_from([p.value for p in Payment]),
    "coverage": coverages,
    "ramp_schedule": ramps,
    **{name: label_lists for name in LIST_FIELDS},
}


@st.composite
def global_and_override(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    provider = draw(st.sampled_from(list(Provider)))
    service = draw(st.sampled_from(SERVICES[provider]))
    ident = {"provider": provider.value, "service": service}
    global_values = {name: draw(strategy) for name, strategy in GLOBAL_VALUES.items()}
    override_values = {name: draw(st.none() | strategy) for name, strategy in GLOBAL_VALUES.items()}
    return {**ident, **global_values}, {**ident, **override_values}


def _normalised(name: str, value: Any) -> Any:
    if name in LIST_FIELDS:
        return tuple(value)
    if name == "payment":
        return Payment(value)
    return value


@settings(max_examples=300, deadline=None)
@given(global_and_override(), st.booleans())
def test_property_override_when_set_else_global(
    rows: tuple[dict[str, Any], dict[str, Any]], with_override: bool
) -> None:
    global_values, override_values = rows
    override = AccountServiceOverride(**override_values) if with_override else None
    effective = merge(ServiceConfig(**global_values), override)
    assert isinstance(effective, EffectiveServiceConfig)
    for name in CONFIG_FIELDS:
        field = getattr(effective, name)
        set_value = override_values[name] if with_override else None
        if set_value is not None:
            assert field.source is OVERRIDE, name
            assert field.value == _normalised(name, set_value), name
        else:
            assert field.source is GLOBAL, name
            assert field.value == _normalised(name, global_values[name]), name


# ---- effective_configs / effective_configs_for_accounts --------------------------------


async def test_effective_configs_lists_every_service_of_the_provider(
    session: AsyncSession,
) -> None:
    for provider in Provider:
        account = await make_account(session, provider.value)
        configs = await effective_configs(session, account)
        assert [c.service for c in configs] == list(SERVICES[provider])
        assert all(c.provider is provider for c in configs)
        assert all(c.term.value == 3 and c.coverage.value == 80 for c in configs)


async def test_effective_configs_applies_the_accounts_own_override_only(
    session: AsyncSession,
) -> None:
    first = await make_account(session, "aws")
    second = await make_account(session, "aws")
    session.add(
        AccountServiceOverride(
            cloud_account_id=first.id, provider="aws", service="rds", term=1, include_types=[]
        )
    )
    await session.commit()
    rds_first = {c.service: c for c in await effective_configs(session, first)}["rds"]
    rds_second = {c.service: c for c in await effective_configs(session, second)}["rds"]
    assert (rds_first.term.value, rds_first.term.source) == (1, OVERRIDE)
    assert (rds_first.include_types.value, rds_first.include_types.source) == ((), OVERRIDE)
    assert (rds_second.term.value, rds_second.term.source) == (3, GLOBAL)


async def test_the_batch_variant_uses_two_queries_for_many_accounts(
    app: FastAPI, session: AsyncSession
) -> None:
    accounts = [await make_account(session, p) for p in ["aws"] * 6 + ["azure", "gcp"] * 3]
    for account in accounts[::2]:
        service = SERVICES[Provider(account.provider)][0]
        session.add(
            AccountServiceOverride(
                cloud_account_id=account.id,
                provider=account.provider,
                service=service,
                coverage=Decimal("12.5"),
            )
        )
    await session.commit()

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    # This session's connection only: the app's background claim polls share the engine.
    connection = (await session.connection()).sync_connection
    assert connection is not None
    event.listen(connection, "before_cursor_execute", count)
    try:
        batch = await effective_configs_for_accounts(session, accounts)
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert len(statements) == 2, statements

    for index, account in enumerate(accounts):
        assert batch[account.id] == await effective_configs(session, account)
        first = batch[account.id][0]
        expected = (Decimal("12.5"), OVERRIDE) if index % 2 == 0 else (Decimal("80"), GLOBAL)
        assert (first.coverage.value, first.coverage.source) == expected
    assert await effective_configs_for_accounts(session, []) == {}
