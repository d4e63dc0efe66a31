"""Plan rules: CRUD, the provider derived from the service keys, target accounts, scoping.

Decisions where the SPEC is silent:
- A plan names at least one service; every key is ``"<provider>:<service>"`` with a known
  service of that provider; keys of two providers → 400 (``mixed_providers``).
- ``PUT /api/plans/{id}`` is a partial update (as for accounts); changing ``services`` to
  another provider while explicit target accounts are set → 400 (clear them first).
- Scoping: a plan "touches" its explicit accounts or, with none, every enabled account of
  its provider. Every route needs the plan permission *and* a scope covering every touched
  account (403 otherwise); the list shows only plans the caller's scope fully covers. So a
  scoped user cannot create an "all accounts" plan unless their scope covers all of them.
- ``schedule`` is a five-field cron expression evaluated in UTC (croniter); ``next_run_at``
  is recomputed whenever it changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import service as audit
from api.auth.permissions import AccountScope, Principal
from api.db import Readable
from api.enums import SERVICES, Provider
from api.errors import BadRequest, FieldError, Forbidden, NotFound, ValidationFailed
from api.models import CloudAccount, PurchasePlan
from api.plans import repository
from api.plans.schemas import (
    PlanAccountRead,
    PlanAccounts,
    PlanCreate,
    PlanRead,
    PlanServiceSettings,
    PlanTargets,
    PlanUpdate,
)

TARGET_TYPE = "purchase_plan"
MAX_TARGET_NAMES = 20
PLAN_FIELDS = (
    "name",
    "description",
    "enabled",
    "services",
    "schedule",
    "dry_run",
    "max_upfront",
    "max_monthly_commitment",
)


def provider_of(services: dict[str, PlanServiceSettings]) -> Provider:
    """The one provider named by the service keys; 400 for an unknown key or mixed providers."""
    providers: set[Provider] = set()
    for key in services:
        prefix, sep, service = key.partition(":")
        try:
            provider = Provider(prefix)
        except ValueError:
            provider = None
        if not sep or provider is None or service not in SERVICES[provider]:
            known = ", ".join(f"{p.value}:{s}" for p in Provider for s in SERVICES[p])
            raise ValidationFailed.for_field(
                f"services.{key}", f"unknown service key; use one of {known}"
            )
        providers.add(provider)
    if len(providers) > 1:
        raise ValidationFailed(
            "a plan cannot mix providers: "
            + ", ".join(sorted(p.value for p in providers))
            + " (create one plan per provider)",
            code="mixed_providers",
            fields=[FieldError(field="services", message="keys of more than one provider")],
        )
    return providers.pop()


def next_run(schedule: str, after: datetime | None = None) -> datetime:
    """The first time after ``after`` (default now) the cron ``schedule`` fires, in UTC."""
    base = after or datetime.now(UTC)
    return croniter(schedule, base).get_next(datetime).astimezone(UTC)


def check_schedule(schedule: str) -> None:
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise ValidationFailed.for_field(
            "schedule",
            "must be a five-field cron expression (minute hour day month weekday), e.g. '0 3 * * 1'",
        )


def _services_json(services: dict[str, PlanServiceSettings]) -> dict[str, Any]:
    return {
        key: value.model_dump(mode="json", exclude_none=True) for key, value in services.items()
    }


@dataclass(frozen=True)
class PlanView:
    plan: PurchasePlan
    explicit: list[CloudAccount]
    touched: list[uuid.UUID]


async def _views(session: Readable, plans: Sequence[PurchasePlan]) -> list[PlanView]:
    explicit = await repository.plan_account_rows(session, [p.id for p in plans])
    enabled = await repository.enabled_ids_by_provider(session) if plans else {}
    views = []
    for plan in plans:
        rows = explicit[plan.id]
        touched = [a.id for a in rows] if rows else enabled.get(plan.provider or "", [])
        views.append(PlanView(plan, rows, touched))
    return views


def to_read(view: PlanView) -> PlanRead:
    plan = view.plan
    if view.explicit:
        targets = PlanTargets(
            all=False,
            count=len(view.explicit),
            names=[a.name for a in view.explicit[:MAX_TARGET_NAMES]],
        )
    else:
        targets = PlanTargets(all=True, count=len(view.touched), names=[])
    return PlanRead(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        enabled=plan.enabled,
        provider=Provider(plan.provider) if plan.provider else None,
        services=plan.services,
        schedule=plan.schedule,
        next_run_at=plan.next_run_at,
        dry_run=plan.dry_run,
        max_upfront=plan.max_upfront,
        max_monthly_commitment=plan.max_monthly_commitment,
        target_accounts=targets,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


async def load_plan(
    session: Readable, plan_id: uuid.UUID, scope: AccountScope, *, for_update: bool = False
) -> PlanView:
    """The plan named in a request: 404 unknown, 403 when it touches an account out of scope."""
    plan = await repository.get_plan(session, plan_id, for_update=for_update)
    if plan is None:
        raise NotFound("plan not found", code="plan_not_found")
    view = (await _views(session, [plan]))[0]
    _require_some_scope(scope)
    scope.require(view.touched)
    return view


def _require_some_scope(scope: AccountScope) -> None:
    # Fails closed: a constraint naming no account grants nothing, even on a plan with none.
    if not scope.unrestricted and not scope.account_ids:
        raise Forbidden(
            "your permissions do not cover any cloud account", code="account_out_of_scope"
        )


async def list_plans(
    session: Readable, scope: AccountScope, account_ids: Sequence[uuid.UUID] | None = None
) -> list[PlanRead]:
    """The plans whose every touched account is in the caller's scope, by name.

    With ``account_ids`` (403 when one is outside the scope): only the plans targeting any of
    them — explicitly, or as an "all accounts" plan of a named account's provider."""
    if account_ids:
        scope.require(account_ids)
    if not scope.unrestricted and not scope.account_ids:
        return []
    views = await _views(session, await repository.list_plans(session))
    views = [v for v in views if all(scope.allows(i) for i in v.touched)]
    if account_ids:
        wanted = set(account_ids)
        providers = await repository.providers_of(session, account_ids)
        views = [
            v
            for v in views
            if (
                any(a.id in wanted for a in v.explicit)
                if v.explicit
                else (v.plan.provider or "") in providers
            )
        ]
    return [to_read(v) for v in views]


async def get_plan(session: Readable, plan_id: uuid.UUID, scope: AccountScope) -> PlanRead:
    """One plan (404 unknown, 403 out of scope)."""
    return to_read(await load_plan(session, plan_id, scope))


async def create_plan(
    session: AsyncSession, principal: Principal, scope: AccountScope, payload: PlanCreate
) -> PlanRead:
    """Validate and insert a plan targeting all enabled accounts of its provider."""
    provider = provider_of(payload.services)
    if payload.schedule is not None:
        check_schedule(payload.schedule)
    plan = PurchasePlan(
        name=payload.name,
        description=payload.description,
        enabled=payload.enabled,
        provider=provider.value,
        services=_services_json(payload.services),
        schedule=payload.schedule,
        next_run_at=next_run(payload.schedule) if payload.schedule else None,
        dry_run=payload.dry_run,
        max_upfront=payload.max_upfront,
        max_monthly_commitment=payload.max_monthly_commitment,
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    view = PlanView(plan, [], (await repository.enabled_ids_by_provider(session)).get(provider, []))
    _require_some_scope(scope)
    scope.require(view.touched)
    await repository.insert_plan(session, plan)
    given = payload.model_dump(exclude_unset=True)
    await audit.record(session, principal, "plan.create", TARGET_TYPE, plan.id, sorted(given))
    return to_read(view)


async def update_plan(
    session: AsyncSession,
    principal: Principal,
    scope: AccountScope,
    plan_id: uuid.UUID,
    payload: PlanUpdate,
) -> PlanRead:
    """Apply the fields present (partial update), validated as a whole plan."""
    if payload.id is not None and payload.id != plan_id:
        raise ValidationFailed.for_field("id", "must equal the plan id in the path")
    view = await load_plan(session, plan_id, scope, for_update=True)
    plan = view.plan
    changes = payload.model_dump(exclude_unset=True, exclude={"id"})
    for required in ("name", "enabled", "services", "dry_run"):
        if required in changes and changes[required] is None:
            raise ValidationFailed.for_field(required, "cannot be null")
    values: dict[str, Any] = {}
    if payload.services is not None and "services" in changes:
        provider = provider_of(payload.services)
        if provider.value != plan.provider and view.explicit:
            raise ValidationFailed.for_field(
                "services",
                f"the plan targets {plan.provider} accounts: clear its accounts before "
                f"switching it to {provider.value}",
            )
        values["provider"] = provider.value
        values["services"] = _services_json(payload.services)
    for name in (
        "name",
        "description",
        "enabled",
        "dry_run",
        "max_upfront",
        "max_monthly_commitment",
    ):
        if name in changes:
            values[name] = getattr(payload, name)
    if "schedule" in changes:
        if payload.schedule is not None:
            check_schedule(payload.schedule)
        values["schedule"] = payload.schedule
        values["next_run_at"] = next_run(payload.schedule) if payload.schedule else None
    changed = [
        name
        for name in (*PLAN_FIELDS, "provider")
        if name in values and getattr(plan, name) != values[name]
    ]
    for name, value in values.items():
        setattr(plan, name, value)
    if changed:
        plan.updated_by = principal.user_id
    await repository.refresh(session, plan)
    if changed:
        await audit.record(session, principal, "plan.update", TARGET_TYPE, plan.id, changed)
    return to_read((await _views(session, [plan]))[0])


async def delete_plan(
    session: AsyncSession, principal: Principal, scope: AccountScope, plan_id: uuid.UUID
) -> None:
    """Delete the plan; its executions and history keep their rows (``plan_id`` NULL)."""
    view = await load_plan(session, plan_id, scope, for_update=True)
    await repository.delete_plan(session, view.plan.id)
    await audit.record(session, principal, "plan.delete", TARGET_TYPE, plan_id)


def _accounts_out(view: PlanView) -> PlanAccounts:
    return PlanAccounts(
        account_ids=[a.id for a in view.explicit],
        accounts=[
            PlanAccountRead(
                id=a.id, name=a.name, provider=Provider(a.provider), external_id=a.external_id
            )
            for a in view.explicit
        ],
    )


async def get_plan_accounts(
    session: Readable, plan_id: uuid.UUID, scope: AccountScope
) -> PlanAccounts:
    """The plan's explicit target accounts (empty: all enabled accounts of its provider)."""
    return _accounts_out(await load_plan(session, plan_id, scope))


async def replace_plan_accounts(
    session: AsyncSession,
    principal: Principal,
    scope: AccountScope,
    plan_id: uuid.UUID,
    account_ids: Sequence[uuid.UUID],
) -> PlanAccounts:
    """Replace the target set: every id in scope (403), existing (404), of the plan's provider
    (400); nothing changes unless all pass. Empty = all enabled accounts of the provider."""
    view = await load_plan(session, plan_id, scope, for_update=True)
    wanted = list(dict.fromkeys(account_ids))
    scope.require(wanted)
    found = {a.id: a for a in await repository.get_accounts_for_share(session, wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(
            f"no cloud account has id {missing[0]}",
            code="account_not_found",
            extra={"account_ids": [str(i) for i in missing]},
        )
    wrong = [found[i] for i in wanted if found[i].provider != view.plan.provider]
    if wrong:
        raise BadRequest(
            f"the plan buys {view.plan.provider} commitments but account {wrong[0].name!r} is "
            f"{wrong[0].provider}: only {view.plan.provider} accounts can be targeted",
            code="provider_mismatch",
            extra={"account_ids": [str(a.id) for a in wrong]},
        )
    if not wanted:
        # "All accounts" touches every enabled account of the provider: the scope must cover it.
        enabled = await repository.enabled_ids_by_provider(session)
        scope.require(enabled.get(view.plan.provider or "", []))
    await repository.replace_plan_accounts(session, view.plan.id, wanted)
    await audit.record(
        session, principal, "plan.accounts.update", TARGET_TYPE, view.plan.id, ["account_ids"]
    )
    return _accounts_out((await _views(session, [view.plan]))[0])
