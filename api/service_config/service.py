"""Global service defaults, sparse per-account overrides and the effective config (SPEC §4).

Decisions the SPEC leaves open (also stated in the OpenAPI descriptions):

- ``PUT /api/config/service/{provider}/{service}`` is a partial update: absent fields keep
  their value; only ``ramp_schedule`` may be set to ``null``.
- Changing a global default needs ``config:update`` **without** an account constraint: it
  affects every account, so a permission limited to some accounts cannot reach it (403).
- An unknown ``(provider, service)`` pair is a 400 naming ``service`` (or ``provider``).
- An override PUT that sets no field at all removes the override; ``DELETE`` is idempotent
  (204 whether or not an override existed).
- Audit: ``config.update`` (target ``service_config`` ``"<provider>:<service>"``),
  ``override.update`` / ``override.delete`` (target ``cloud_account`` ``<account id>``), each
  with the names of the fields whose stored value changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import service as audit
from api.auth.permissions import AccountScope, Principal
from api.db import Readable
from api.enums import SERVICES, Provider
from api.errors import FieldError, Forbidden, ValidationFailed
from api.models import AccountServiceOverride, CloudAccount, ServiceConfig
from api.service_config import repository
from api.service_config.merge import (
    CONFIG_FIELDS,
    EffectiveServiceConfig,
    default_service_config,
    merge,
)
from api.service_config.schemas import ServiceConfigUpdate, ServiceOverrideReplace

_ORDER = {
    (provider.value, service): index
    for index, (provider, service) in enumerate(
        (provider, service) for provider, services in SERVICES.items() for service in services
    )
}


def _order_key(row: ServiceConfig | AccountServiceOverride) -> int:
    return _ORDER.get((row.provider, row.service), len(_ORDER))


def validate_service(provider: Provider, service: str) -> None:
    """400 naming ``service`` unless it is a known service of ``provider`` (SPEC §4)."""
    known = SERVICES[provider]
    if service not in known:
        raise ValidationFailed.for_field(
            "service",
            f"unknown service {service[:64]!r} for provider {provider.value}; "
            f"known services: {', '.join(known)}",
        )


def _check_body_identity(provider: Provider, service: str, body: Any) -> None:
    fields: list[FieldError] = []
    if body.provider is not None and body.provider != provider:
        fields.append(FieldError(field="provider", message="must match the provider in the path"))
    if body.service is not None and body.service != service:
        fields.append(FieldError(field="service", message="must match the service in the path"))
    if fields:
        raise ValidationFailed(
            "the body names another service than the path: "
            + "; ".join(f"{f.field}: {f.message}" for f in fields),
            fields=fields,
        )


def _column_value(name: str, value: Any) -> Any:
    """A validated schema value as stored in its column."""
    if value is None:
        return None
    if name == "payment":
        return str(value)
    if name == "ramp_schedule":
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return list(value)
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    return bool(a == b)


def _changed(old: dict[str, Any], new: dict[str, Any], names: Iterable[str]) -> list[str]:
    return [name for name in names if not _same(old.get(name), new.get(name))]


def _snapshot(row: ServiceConfig | AccountServiceOverride | None) -> dict[str, Any]:
    if row is None:
        return dict.fromkeys(CONFIG_FIELDS)
    return {name: getattr(row, name) for name in CONFIG_FIELDS}


# ---- global defaults -------------------------------------------------------------------


async def list_service_configs(session: Readable) -> list[ServiceConfig]:
    """Every global default, in ``SERVICES`` order."""
    return sorted(await repository.list_service_configs(session), key=_order_key)


async def update_service_config(
    session: AsyncSession,
    principal: Principal,
    scope: AccountScope,
    provider: Provider,
    service: str,
    body: ServiceConfigUpdate,
) -> ServiceConfig:
    """Apply the fields given in ``body`` to one global default; absent fields are unchanged."""
    if not scope.unrestricted:
        raise Forbidden(
            "global defaults apply to every account: changing them needs config:update "
            "without an account constraint",
            code="account_out_of_scope",
        )
    validate_service(provider, service)
    _check_body_identity(provider, service, body)
    given = [name for name in CONFIG_FIELDS if name in body.model_fields_set]
    new = {name: _column_value(name, getattr(body, name)) for name in given}

    current = await repository.get_service_config(session, provider.value, service, for_update=True)
    if current is None:
        await repository.insert_service_config(session, provider.value, service)
        current = await repository.get_service_config(
            session, provider.value, service, for_update=True
        )
        assert current is not None
    changed = _changed(_snapshot(current), new, given)
    if changed:
        current = await repository.update_service_config(
            session, provider.value, service, {name: new[name] for name in changed}
        )
    await audit.record(
        session, principal, "config.update", "service_config", f"{provider}:{service}", changed
    )
    return current


# ---- overrides -------------------------------------------------------------------------


def _check_account_service(account: CloudAccount, provider: Provider, service: str) -> None:
    if provider.value != account.provider:
        raise ValidationFailed(
            f"provider mismatch: this account is a {account.provider} account, "
            f"so it has no {provider.value} services",
            code="provider_mismatch",
            fields=[
                FieldError(
                    field="provider", message=f"must be the account's provider ({account.provider})"
                )
            ],
        )
    validate_service(provider, service)


async def list_overrides(session: Readable, account: CloudAccount) -> list[AccountServiceOverride]:
    """The account's overrides, in ``SERVICES`` order."""
    return sorted(await repository.list_overrides(session, account.id), key=_order_key)


async def replace_override(
    session: AsyncSession,
    principal: Principal,
    account: CloudAccount,
    provider: Provider,
    service: str,
    body: ServiceOverrideReplace,
) -> AccountServiceOverride | None:
    """Replace the account's whole override of one service; absent fields inherit.

    Returns the stored override, or None when ``body`` set nothing and the override was removed.
    """
    _check_account_service(account, provider, service)
    _check_body_identity(provider, service, body)
    new = {name: _column_value(name, getattr(body, name)) for name in CONFIG_FIELDS}
    previous = await repository.get_override(
        session, account.id, provider.value, service, for_update=True
    )
    changed = _changed(_snapshot(previous), new, CONFIG_FIELDS)
    stored: AccountServiceOverride | None
    if all(value is None for value in new.values()):
        await repository.delete_override(session, account.id, provider.value, service)
        stored = None
    else:
        stored = await repository.upsert_override(session, account.id, provider.value, service, new)
    await audit.record(session, principal, "override.update", "cloud_account", account.id, changed)
    return stored


async def delete_override(
    session: AsyncSession,
    principal: Principal,
    account: CloudAccount,
    provider: Provider,
    service: str,
) -> None:
    """Remove the account's override of one service (idempotent): it inherits every field again."""
    _check_account_service(account, provider, service)
    deleted = await repository.delete_override(session, account.id, provider.value, service)
    cleared = [name for name, value in _snapshot(deleted).items() if value is not None]
    await audit.record(session, principal, "override.delete", "cloud_account", account.id, cleared)


# ---- effective config ------------------------------------------------------------------


def _effective_for(
    account: CloudAccount,
    globals_by_key: dict[tuple[str, str], ServiceConfig],
    overrides_by_key: dict[tuple[str, str], AccountServiceOverride],
) -> list[EffectiveServiceConfig]:
    provider = Provider(account.provider)
    return [
        merge(
            globals_by_key.get((provider.value, service))
            or default_service_config(provider, service),
            overrides_by_key.get((provider.value, service)),
        )
        for service in SERVICES[provider]
    ]


async def effective_configs(
    session: Readable, account: CloudAccount
) -> list[EffectiveServiceConfig]:
    """The effective config of every service of the account's provider, in ``SERVICES`` order."""
    return (await effective_configs_for_accounts(session, [account]))[account.id]


async def effective_configs_for_accounts(
    session: Readable, accounts: Sequence[CloudAccount]
) -> dict[uuid.UUID, list[EffectiveServiceConfig]]:
    """``effective_configs`` for many accounts with two queries in total (globals, overrides)."""
    if not accounts:
        return {}
    return effective_configs_of(
        accounts,
        await repository.list_service_configs(session),
        await repository.list_overrides_for_accounts(session, [account.id for account in accounts]),
    )


def effective_configs_of(
    accounts: Sequence[CloudAccount],
    service_configs: Sequence[ServiceConfig],
    account_overrides: Sequence[AccountServiceOverride],
) -> dict[uuid.UUID, list[EffectiveServiceConfig]]:
    """``effective_configs_for_accounts`` from rows read beforehand: every global row and the
    accounts' overrides (the collection reads them with its claimed batch)."""
    globals_by_key = {(row.provider, row.service): row for row in service_configs}
    overrides: dict[uuid.UUID, dict[tuple[str, str], AccountServiceOverride]] = {
        account.id: {} for account in accounts
    }
    for row in account_overrides:
        if row.cloud_account_id in overrides:
            overrides[row.cloud_account_id][(row.provider, row.service)] = row
    return {
        account.id: _effective_for(account, globals_by_key, overrides[account.id])
        for account in accounts
    }
