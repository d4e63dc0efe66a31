"""Every query of the plans domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import Readable
from api.models import CloudAccount, PlanAccount, PurchasePlan


async def get_plan(
    session: Readable, plan_id: uuid.UUID, *, for_update: bool = False
) -> PurchasePlan | None:
    query = select(PurchasePlan).where(PurchasePlan.id == plan_id)
    if for_update:
        query = query.with_for_update()
    result = await session.execute(query.execution_options(populate_existing=True))
    return result.scalar_one_or_none()


async def list_plans(session: Readable) -> list[PurchasePlan]:
    result = await session.execute(
        select(PurchasePlan).order_by(PurchasePlan.name, PurchasePlan.id)
    )
    return list(result.scalars())


async def plan_account_rows(
    session: Readable, plan_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CloudAccount]]:
    """The explicit target accounts of each plan, by name."""
    found: dict[uuid.UUID, list[CloudAccount]] = {plan_id: [] for plan_id in plan_ids}
    if not plan_ids:
        return found
    result = await session.execute(
        select(PlanAccount.plan_id, CloudAccount)
        .join(CloudAccount, CloudAccount.id == PlanAccount.cloud_account_id)
        .where(PlanAccount.plan_id.in_(list(plan_ids)))
        .order_by(CloudAccount.name, CloudAccount.id)
    )
    for plan_id, account in result.tuples():
        found[plan_id].append(account)
    return found


async def accounts_of_provider(
    session: Readable, provider: str, *, enabled_only: bool = True
) -> list[CloudAccount]:
    query = select(CloudAccount).where(CloudAccount.provider == provider)
    if enabled_only:
        query = query.where(CloudAccount.enabled.is_(True))
    result = await session.execute(query.order_by(CloudAccount.name, CloudAccount.id))
    return list(result.scalars())


async def providers_of(session: Readable, account_ids: Sequence[uuid.UUID]) -> set[str]:
    """The providers of the named accounts (unknown ids name none)."""
    if not account_ids:
        return set()
    result = await session.execute(
        select(CloudAccount.provider).where(CloudAccount.id.in_(list(account_ids))).distinct()
    )
    return set(result.scalars())


async def enabled_ids_by_provider(session: Readable) -> dict[str, list[uuid.UUID]]:
    """Enabled account ids per provider (what an "all accounts" plan touches)."""
    result = await session.execute(
        select(CloudAccount.provider, CloudAccount.id).where(CloudAccount.enabled.is_(True))
    )
    found: dict[str, list[uuid.UUID]] = {}
    for provider, account_id in result.tuples():
        found.setdefault(provider, []).append(account_id)
    return found


async def get_accounts_for_share(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> list[CloudAccount]:
    """The named accounts, share-locked so none vanishes before the transaction commits."""
    if not account_ids:
        return []
    result = await session.execute(
        select(CloudAccount)
        .where(CloudAccount.id.in_(list(account_ids)))
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def insert_plan(session: AsyncSession, plan: PurchasePlan) -> None:
    session.add(plan)
    await session.flush()
    await session.refresh(plan)


async def refresh(session: AsyncSession, plan: PurchasePlan) -> None:
    await session.flush()
    await session.refresh(plan)


async def replace_plan_accounts(
    session: AsyncSession, plan_id: uuid.UUID, account_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(PlanAccount).where(PlanAccount.plan_id == plan_id))
    session.add_all(PlanAccount(plan_id=plan_id, cloud_account_id=i) for i in account_ids)
    await session.flush()


async def delete_plan(session: AsyncSession, plan_id: uuid.UUID) -> None:
    await session.execute(delete(PurchasePlan).where(PurchasePlan.id == plan_id))


async def due_plans(session: AsyncSession, limit: int = 100) -> list[PurchasePlan]:
    """Enabled scheduled plans whose next run is due, locked (skipping ones another worker holds)."""
    result = await session.execute(
        select(PurchasePlan)
        .where(
            PurchasePlan.enabled.is_(True),
            PurchasePlan.schedule.is_not(None),
            PurchasePlan.next_run_at <= func.now(),
        )
        .order_by(PurchasePlan.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result.scalars())
