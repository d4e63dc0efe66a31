"""Cloud-account rules: create, read, update, delete, with SPEC §3's validation and §2's scoping.

Decisions where the SPEC is silent (see also :mod:`api.accounts.validation`):
- ``PUT`` is a partial update: the fields present replace the stored ones, absent ones are
  kept, an explicit ``null`` clears an optional field; the merged account is validated by
  the same rules as a create.
- A scoped ``accounts:create`` (or ``accounts:manage_credentials``) permission whose
  constraint lists no account grants nothing (403); a non-empty constraint allows creating,
  and limits which existing accounts may be named (``aws_bastion_id``).
- Inline ``credentials`` on create also need ``accounts:manage_credentials`` (checked, once,
  by :func:`api.credentials.service.create_account_with_credentials`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.accounts import repository
from api.accounts.repository import AccountView
from api.accounts.schemas import AccountCreate, AccountUpdate
from api.accounts.validation import (
    ACCOUNT_FIELDS,
    BASTION_CHAINING,
    DEFAULTS,
    validate_account,
)
from api.audit import service as audit
from api.auth.permissions import AccountScope, Principal
from api.db import Readable
from api.enums import AwsAuthMode, Provider
from api.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from api.models import CloudAccount

TARGET_TYPE = "cloud_account"


async def load_account(
    session: Readable, account_id: uuid.UUID, scope: AccountScope, *, for_update: bool = False
) -> CloudAccount:
    """The account named in a request: 404 when unknown, 403 when outside the caller's scope.

    ``for_update`` row-locks it for the rest of the transaction.
    """
    account = await repository.get_account(session, account_id, for_update=for_update)
    if account is None:
        raise NotFound("cloud account not found", code="account_not_found")
    scope.require([account.id])
    return account


def require_some_scope(scope: AccountScope) -> None:
    # A constraint naming no account grants nothing (fails closed), even for a new account.
    if not scope.unrestricted and not scope.account_ids:
        raise Forbidden(
            "your permissions do not cover any cloud account", code="account_out_of_scope"
        )


async def list_accounts(
    session: Readable,
    scope: AccountScope,
    *,
    provider: Provider | None = None,
    enabled: bool | None = None,
    search: str | None = None,
) -> list[AccountView]:
    """The accounts the caller may see, filtered; ``search`` is a case-insensitive substring."""
    return await repository.list_accounts(
        session, scope, provider=provider, enabled=enabled, search=search or None
    )


async def get_account(session: Readable, account_id: uuid.UUID, scope: AccountScope) -> AccountView:
    """One account with its derived fields: 404 unknown, 403 outside scope."""
    view = await repository.get_account_view(session, account_id)
    if view is None:
        raise NotFound("cloud account not found", code="account_not_found")
    scope.require([account_id])
    return view


async def _check_bastion(
    session: AsyncSession,
    scope: AccountScope,
    bastion_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None,
) -> None:
    """The bastion is in scope, is not the account itself, exists, is AWS and is no bastion.

    It is share-locked, so it cannot become a bastion (or vanish) before this commits.
    """
    scope.require([bastion_id])
    if account_id is not None and bastion_id == account_id:
        raise ValidationFailed.for_field("aws_bastion_id", "an account cannot be its own bastion")
    bastion = await repository.get_account_for_share(session, bastion_id)
    if bastion is None:
        raise ValidationFailed.for_field("aws_bastion_id", "no cloud account has this id")
    if bastion.provider != Provider.aws:
        raise ValidationFailed.for_field("aws_bastion_id", "the bastion must be an AWS account")
    if bastion.aws_auth_mode == AwsAuthMode.bastion:
        raise ValidationFailed(
            BASTION_CHAINING,
            fields=[FieldError(field="aws_bastion_id", message=BASTION_CHAINING)],
        )


async def new_account_values(
    session: AsyncSession, scope: AccountScope, payload: AccountCreate
) -> dict[str, Any]:
    """The validated column values of a new account: 400 when invalid, 403 outside the scope."""
    require_some_scope(scope)
    given = payload.model_dump(exclude_unset=True, exclude={"credentials"})
    values = validate_account({**DEFAULTS, **given})
    if values["aws_bastion_id"] is not None:
        await _check_bastion(session, scope, values["aws_bastion_id"], account_id=None)
    return values


async def insert_account(
    session: AsyncSession, principal: Principal, values: dict[str, Any]
) -> CloudAccount:
    """Insert an account from :func:`new_account_values`; 409 on a duplicate external id."""
    account = CloudAccount(**values, created_by=principal.user_id)
    try:
        await repository.insert_account(session, account)
    except repository.DuplicateAccount:
        raise Conflict(
            f"a {values['provider']} account with external_id {values['external_id']} "
            "already exists",
            code="account_exists",
        ) from None
    return account


async def account_created(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID, changed: Iterable[str]
) -> AccountView:
    """Audit ``account.create`` with the fields the client set, and return the new account."""
    await audit.record(session, principal, "account.create", TARGET_TYPE, account_id, changed)
    return await _view(session, account_id)


async def create_account(
    session: AsyncSession, principal: Principal, scope: AccountScope, payload: AccountCreate
) -> AccountView:
    """Validate and insert an account; 409 on a duplicate id.

    Inline ``credentials`` are stored by
    :func:`api.credentials.service.create_account_with_credentials` instead, which builds on
    these same steps; this function refuses them rather than drop them silently.
    """
    if payload.credentials is not None:
        raise ValueError("inline credentials go through credentials.service")
    values = await new_account_values(session, scope, payload)
    account = await insert_account(session, principal, values)
    return await account_created(session, principal, account.id, set_fields(payload))


def set_fields(payload: AccountCreate) -> list[str]:
    """The account fields the client set (credentials excluded), for the audit log."""
    return sorted(payload.model_dump(exclude_unset=True, exclude={"credentials"}))


async def update_account(
    session: AsyncSession,
    principal: Principal,
    scope: AccountScope,
    account_id: uuid.UUID,
    payload: AccountUpdate,
) -> AccountView:
    """Apply the fields present in ``payload`` (metadata only), validated as a whole account."""
    account = await load_account(session, account_id, scope, for_update=True)
    current = {field: getattr(account, field) for field in ACCOUNT_FIELDS}
    changes = payload.model_dump(exclude_unset=True, exclude={"provider", "external_id"})
    merged = {**current, **changes}
    # Leaving bastion mode drops the bastion unless the body names one (which is then refused).
    if merged["aws_auth_mode"] != AwsAuthMode.bastion and "aws_bastion_id" not in changes:
        merged["aws_bastion_id"] = None
    values = validate_account(merged)

    if values["aws_auth_mode"] == AwsAuthMode.bastion:
        if "aws_bastion_id" in changes or current["aws_auth_mode"] != AwsAuthMode.bastion:
            await _check_bastion(session, scope, values["aws_bastion_id"], account_id=account.id)
        if await repository.bastion_dependants(session, account.id):
            # Others assume through this account: it cannot itself go through a bastion.
            raise ValidationFailed(
                BASTION_CHAINING,
                fields=[FieldError(field="aws_auth_mode", message=BASTION_CHAINING)],
            )

    changed = [field for field in ACCOUNT_FIELDS if values[field] != current[field]]
    for field in changed:
        setattr(account, field, values[field])
    await session.flush()
    await audit.record(session, principal, "account.update", TARGET_TYPE, account.id, changed)
    return await _view(session, account.id)


async def delete_account(
    session: AsyncSession, principal: Principal, scope: AccountScope, account_id: uuid.UUID
) -> None:
    """Delete the account: 409 while it has pending/running executions or is someone's bastion.

    The row is locked first, so an execution cannot be inserted for it meanwhile.
    """
    account = await load_account(session, account_id, scope, for_update=True)
    executions = await repository.active_execution_ids(session, account.id)
    if executions:
        raise Conflict(
            f"the account has {len(executions)} pending or running purchase execution(s); "
            "wait for them to finish",
            code="account_has_active_executions",
            extra={"executions": [str(execution_id) for execution_id in executions]},
        )
    dependants = await repository.bastion_dependants(session, account.id)
    if dependants:
        raise Conflict(
            f"the account is the bastion of {len(dependants)} other account(s); "
            "change or delete them first",
            code="account_is_bastion",
            extra={"dependants": [{"id": str(i), "name": name} for i, name in dependants]},
        )
    await repository.delete_account(session, account.id)
    await audit.record(session, principal, "account.delete", TARGET_TYPE, account_id)


async def _view(session: AsyncSession, account_id: uuid.UUID) -> AccountView:
    view = await repository.get_account_view(session, account_id)
    assert view is not None
    return view
