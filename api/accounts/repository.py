"""Every cloud-account query. Scoping is applied inside the query (never after fetching)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.auth.permissions import AccountScope
from api.db import Readable
from api.enums import (
    AwsAuthMode,
    AzureAuthMode,
    CredentialType,
    ExecutionStatus,
    GcpAuthMode,
    Provider,
    RunAccountStatus,
)
from api.models import (
    AccountCredential,
    CloudAccount,
    CollectionRunAccount,
    PurchaseExecution,
)

UNIQUE_PROVIDER_EXTERNAL_ID = "uq_cloud_accounts_provider_external_id"

# The credential type each auth mode reads; role_arn and bastion store none of their own.
CREDENTIAL_TYPE_FOR_MODE: dict[tuple[Provider, str], CredentialType] = {
    (Provider.aws, AwsAuthMode.access_keys): CredentialType.aws_access_keys,
    (Provider.aws, AwsAuthMode.workload_identity_federation): CredentialType.aws_wif,
    (Provider.azure, AzureAuthMode.client_secret): CredentialType.azure_client_secret,
    (Provider.azure, AzureAuthMode.workload_identity_federation): CredentialType.azure_wif,
    (Provider.gcp, GcpAuthMode.service_account_key): CredentialType.gcp_service_account,
    (Provider.gcp, GcpAuthMode.workload_identity_federation): CredentialType.gcp_wif,
}


@dataclass(frozen=True)
class AccountView:
    """An account row with its derived fields, as the API shows it."""

    account: CloudAccount
    credentials_configured: bool
    last_collected_at: datetime | None
    last_collection_error: str | None


async def get_account(
    session: Readable, account_id: uuid.UUID, *, for_update: bool = False
) -> CloudAccount | None:
    """The account by id, whatever the caller's scope (callers check scope first).

    ``for_update`` locks the row (``SELECT … FOR UPDATE``) until the transaction ends.
    """
    if not for_update:
        return await session.get(CloudAccount, account_id)
    return (
        await session.execute(
            select(CloudAccount)
            .where(CloudAccount.id == account_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def get_account_for_share(
    session: AsyncSession, account_id: uuid.UUID
) -> CloudAccount | None:
    """The account, share-locked: it cannot change mode or vanish until this transaction ends."""
    return (
        await session.execute(
            select(CloudAccount)
            .where(CloudAccount.id == account_id)
            .with_for_update(read=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


# --- derived fields -------------------------------------------------------------------------


def _credential_type_expr(account: Any) -> ColumnElement[Any]:
    return case(
        *(
            (
                and_(
                    account.provider == provider.value, _mode_column(account, provider) == str(mode)
                ),
                literal(credential_type.value),
            )
            for (provider, mode), credential_type in CREDENTIAL_TYPE_FOR_MODE.items()
        ),
        else_=None,
    )


def _mode_column(account: Any, provider: Provider) -> Any:
    return {
        Provider.aws: account.aws_auth_mode,
        Provider.azure: account.azure_auth_mode,
        Provider.gcp: account.gcp_auth_mode,
    }[provider]


def _own_credentials_configured(account: Any) -> ColumnElement[bool]:
    """The account's own mode is ambient (AWS role_arn) or its credential row is of the mode's type."""
    stored = exists().where(
        AccountCredential.cloud_account_id == account.id,
        AccountCredential.credential_type == _credential_type_expr(account),
    )
    return or_(
        and_(
            account.provider == Provider.aws.value,
            account.aws_auth_mode == AwsAuthMode.role_arn.value,
        ),
        stored,
    )


def credentials_configured_expr() -> ColumnElement[bool]:
    """SQL for ``credentials_configured`` of :class:`CloudAccount` rows (SPEC §3, derived).

    Bastion mode has nothing of its own: it is configured when its bastion is an AWS account
    whose own (non-bastion) credentials are.
    """
    bastion = aliased(CloudAccount)
    bastion_configured = exists().where(
        bastion.id == CloudAccount.aws_bastion_id,
        bastion.provider == Provider.aws.value,
        or_(bastion.aws_auth_mode.is_(None), bastion.aws_auth_mode != AwsAuthMode.bastion.value),
        _own_credentials_configured(bastion),
    )
    is_bastion_mode = and_(
        CloudAccount.provider == Provider.aws.value,
        CloudAccount.aws_auth_mode == AwsAuthMode.bastion.value,
    )
    return case(
        (is_bastion_mode, bastion_configured),
        else_=_own_credentials_configured(CloudAccount),
    )


def _last_collected_at_expr() -> Any:
    return (
        select(func.max(CollectionRunAccount.finished_at))
        .where(
            CollectionRunAccount.cloud_account_id == CloudAccount.id,
            CollectionRunAccount.status == RunAccountStatus.ok.value,
        )
        .scalar_subquery()
    )


def _last_collection_error_expr() -> Any:
    run = CollectionRunAccount
    error = case(
        (
            run.status == RunAccountStatus.failed.value,
            func.coalesce(run.error, literal("collection failed")),
        ),
        (
            run.status == RunAccountStatus.timeout.value,
            func.coalesce(run.error, literal("collection timed out")),
        ),
        else_=None,
    )
    return (
        select(error)
        .where(
            run.cloud_account_id == CloudAccount.id,
            run.finished_at.is_not(None),
            run.status.in_(
                [
                    RunAccountStatus.ok.value,
                    RunAccountStatus.failed.value,
                    RunAccountStatus.timeout.value,
                ]
            ),
        )
        .order_by(run.finished_at.desc(), run.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _view_select() -> Select[Any]:
    return select(
        CloudAccount,
        credentials_configured_expr().label("credentials_configured"),
        _last_collected_at_expr().label("last_collected_at"),
        _last_collection_error_expr().label("last_collection_error"),
    ).execution_options(populate_existing=True)


def _to_view(row: Any) -> AccountView:
    return AccountView(
        account=row[0],
        credentials_configured=bool(row[1]),
        last_collected_at=row[2],
        last_collection_error=row[3],
    )


async def get_account_view(session: Readable, account_id: uuid.UUID) -> AccountView | None:
    """One account with its derived fields (re-read, so trigger-maintained columns are fresh)."""
    row = (await session.execute(_view_select().where(CloudAccount.id == account_id))).first()
    return _to_view(row) if row is not None else None


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (backslash is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_accounts(
    session: Readable,
    scope: AccountScope,
    *,
    provider: Provider | None = None,
    enabled: bool | None = None,
    search: str | None = None,
) -> list[AccountView]:
    """Accounts inside ``scope`` matching the filters, ordered by name (case-insensitive) then id."""
    query = _view_select().where(scope.where(CloudAccount.id))
    if provider is not None:
        query = query.where(CloudAccount.provider == provider.value)
    if enabled is not None:
        query = query.where(CloudAccount.enabled == (true() if enabled else false()))
    if search:
        pattern = f"%{escape_like(search)}%"
        query = query.where(
            or_(
                CloudAccount.name.ilike(pattern, escape="\\"),
                CloudAccount.external_id.ilike(pattern, escape="\\"),
            )
        )
    query = query.order_by(func.lower(CloudAccount.name), CloudAccount.name, CloudAccount.id)
    return [_to_view(row) for row in (await session.execute(query)).all()]


# --- writes ---------------------------------------------------------------------------------


class DuplicateAccount(Exception):
    """Another account already has this (provider, external_id)."""


async def insert_account(session: AsyncSession, account: CloudAccount) -> None:
    """INSERT the account; :class:`DuplicateAccount` when the unique constraint refuses it.

    The constraint decides (not a prior read), so two concurrent creates cannot both win.
    """
    session.add(account)
    try:
        await session.flush()
    except IntegrityError as exc:
        if UNIQUE_PROVIDER_EXTERNAL_ID in str(exc.orig):
            raise DuplicateAccount from None
        raise


async def active_execution_ids(session: AsyncSession, account_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the account's pending, running or awaiting-approval executions, oldest first."""
    rows = await session.execute(
        select(PurchaseExecution.id)
        .where(
            PurchaseExecution.cloud_account_id == account_id,
            PurchaseExecution.status.in_(
                [
                    ExecutionStatus.awaiting_approval.value,
                    ExecutionStatus.pending.value,
                    ExecutionStatus.running.value,
                ]
            ),
        )
        .order_by(PurchaseExecution.created_at, PurchaseExecution.id)
    )
    return list(rows.scalars())


async def bastion_dependants(
    session: AsyncSession, account_id: uuid.UUID
) -> Sequence[tuple[uuid.UUID, str]]:
    """(id, name) of the accounts that use ``account_id`` as their bastion."""
    rows = await session.execute(
        select(CloudAccount.id, CloudAccount.name)
        .where(CloudAccount.aws_bastion_id == account_id)
        .order_by(func.lower(CloudAccount.name), CloudAccount.id)
    )
    return [(row[0], row[1]) for row in rows.all()]


async def delete_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    """DELETE the row; the schema cascades credentials, overrides, plan links, recommendations
    and sets ``cloud_account_id`` NULL on history, executions, runs and snapshots."""
    await session.execute(delete(CloudAccount).where(CloudAccount.id == account_id))


async def insert_discovered_accounts(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> dict[str, uuid.UUID]:
    """Insert discovered members, skipping any ``(provider, external_id)`` that exists.

    ``ON CONFLICT DO NOTHING`` lets the unique constraint decide, so two concurrent
    discoveries never create a duplicate nor fail. Returns external_id → id of those created.
    """
    if not rows:
        return {}
    statement = (
        pg_insert(CloudAccount)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["provider", "external_id"])
        .returning(CloudAccount.external_id, CloudAccount.id)
    )
    return {external_id: account_id for external_id, account_id in await session.execute(statement)}
