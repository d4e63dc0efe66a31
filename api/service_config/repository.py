"""Every query on global service defaults and per-account overrides."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import any_, bindparam, delete, null, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Readable
from api.models import AccountServiceOverride, ServiceConfig


def _sql_values(values: dict[str, Any]) -> dict[str, Any]:
    # A Python None in a JSONB column would be stored as JSON 'null'; "unset" is SQL NULL.
    return {
        name: (null() if name == "ramp_schedule" and value is None else value)
        for name, value in values.items()
    }


async def list_service_configs(session: Readable) -> list[ServiceConfig]:
    """Every global row (unordered; callers order by ``SERVICES``)."""
    return list((await session.execute(select(ServiceConfig))).scalars())


async def get_service_config(
    session: AsyncSession, provider: str, service: str, *, for_update: bool = False
) -> ServiceConfig | None:
    """One global row, optionally locked for the rest of the transaction."""
    statement = select(ServiceConfig).where(
        ServiceConfig.provider == provider, ServiceConfig.service == service
    )
    if for_update:
        statement = statement.with_for_update()
    return (
        await session.execute(statement.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def insert_service_config(session: AsyncSession, provider: str, service: str) -> None:
    """Re-create a missing global row with the seeded defaults (no-op when it exists)."""
    await session.execute(
        insert(ServiceConfig)
        .values(provider=provider, service=service)
        .on_conflict_do_nothing(index_elements=[ServiceConfig.provider, ServiceConfig.service])
    )


async def update_service_config(
    session: AsyncSession, provider: str, service: str, values: dict[str, Any]
) -> ServiceConfig:
    """Set ``values`` on one global row and return it as stored (``updated_at`` by trigger)."""
    return (
        await session.execute(
            update(ServiceConfig)
            .where(ServiceConfig.provider == provider, ServiceConfig.service == service)
            .values(**_sql_values(values))
            .returning(ServiceConfig)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def list_overrides(session: Readable, account_id: uuid.UUID) -> list[AccountServiceOverride]:
    """One account's overrides (unordered)."""
    return list(
        (
            await session.execute(
                select(AccountServiceOverride).where(
                    AccountServiceOverride.cloud_account_id == account_id
                )
            )
        ).scalars()
    )


async def list_overrides_for_accounts(
    session: Readable, account_ids: Sequence[uuid.UUID]
) -> list[AccountServiceOverride]:
    """The overrides of many accounts in one query (one array parameter, any number of ids)."""
    if not account_ids:
        return []
    ids = bindparam("account_ids", list(account_ids), type_=ARRAY(UUID(as_uuid=True)))
    return list(
        (
            await session.execute(
                select(AccountServiceOverride).where(
                    AccountServiceOverride.cloud_account_id == any_(ids)
                )
            )
        ).scalars()
    )


async def get_override(
    session: AsyncSession,
    account_id: uuid.UUID,
    provider: str,
    service: str,
    *,
    for_update: bool = False,
) -> AccountServiceOverride | None:
    """One account's override of one service, optionally locked."""
    statement = select(AccountServiceOverride).where(
        AccountServiceOverride.cloud_account_id == account_id,
        AccountServiceOverride.provider == provider,
        AccountServiceOverride.service == service,
    )
    if for_update:
        statement = statement.with_for_update()
    return (
        await session.execute(statement.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def upsert_override(
    session: AsyncSession,
    account_id: uuid.UUID,
    provider: str,
    service: str,
    values: dict[str, Any],
) -> AccountServiceOverride:
    """Replace (or create) the whole override row atomically; ``values`` names every field."""
    sql_values = _sql_values(values)
    statement = (
        insert(AccountServiceOverride)
        .values(cloud_account_id=account_id, provider=provider, service=service, **sql_values)
        .on_conflict_do_update(
            index_elements=[
                AccountServiceOverride.cloud_account_id,
                AccountServiceOverride.provider,
                AccountServiceOverride.service,
            ],
            set_=sql_values,
        )
        .returning(AccountServiceOverride)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def delete_override(
    session: AsyncSession, account_id: uuid.UUID, provider: str, service: str
) -> AccountServiceOverride | None:
    """Delete one override; return the deleted row, or None when there was none."""
    return (
        await session.execute(
            delete(AccountServiceOverride)
            .where(
                AccountServiceOverride.cloud_account_id == account_id,
                AccountServiceOverride.provider == provider,
                AccountServiceOverride.service == service,
            )
            .returning(AccountServiceOverride)
        )
    ).scalar_one_or_none()
