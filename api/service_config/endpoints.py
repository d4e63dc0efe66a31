"""HTTP endpoints for global service defaults, per-account overrides and effective config.

Permissions: reading needs ``config:view``, changing needs ``config:update``. For the
per-account routes the permission's account constraint applies (another account → 403);
changing a global default needs ``config:update`` without an account constraint.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from api.accounts.service import load_account
from api.auth.deps import Grant, Require
from api.db import ReadSessionDep, SessionDep
from api.enums import Action, Provider, Resource
from api.service_config import service as config_service
from api.service_config.schemas import (
    EffectiveConfigOut,
    EffectiveServiceConfigOut,
    ServiceConfigList,
    ServiceConfigOut,
    ServiceConfigUpdate,
    ServiceOverrideList,
    ServiceOverrideOut,
    ServiceOverrideReplace,
)

router = APIRouter(tags=["config"])

ViewGrant = Annotated[Grant, Depends(Require(Action.view, Resource.config))]
UpdateGrant = Annotated[Grant, Depends(Require(Action.update, Resource.config))]
ServiceName = Annotated[
    str, Path(max_length=64, description="A service of the provider, e.g. `ec2`, `vm`, `compute`")
]
AccountId = Annotated[uuid.UUID, Path(description="The cloud account's id")]


@router.get("/config", response_model=ServiceConfigList, status_code=200)
async def list_service_configs(session: ReadSessionDep, grant: ViewGrant) -> ServiceConfigList:
    """Every global default, in the fixed service order (aws, azure, gcp)."""
    rows = await config_service.list_service_configs(session)
    return ServiceConfigList(service_configs=[ServiceConfigOut.model_validate(row) for row in rows])


@router.put(
    "/config/service/{provider}/{service}",
    response_model=ServiceConfigOut,
    status_code=200,
)
async def update_service_config(
    provider: Provider,
    service: ServiceName,
    body: ServiceConfigUpdate,
    session: SessionDep,
    grant: UpdateGrant,
) -> ServiceConfigOut:
    """Change a global default. Absent fields keep their value (partial update).

    An unknown provider/service pair is 400. Needs `config:update` without an account
    constraint, since a global default applies to every account.
    """
    row = await config_service.update_service_config(
        session, grant.principal, grant.scope, provider, service, body
    )
    return ServiceConfigOut.model_validate(row)


@router.get(
    "/accounts/{account_id}/service-overrides",
    response_model=ServiceOverrideList,
    response_model_exclude_none=True,
    status_code=200,
)
async def list_service_overrides(
    account_id: AccountId, session: ReadSessionDep, grant: ViewGrant
) -> ServiceOverrideList:
    """The account's overrides, sparse: only the fields an override sets are present."""
    account = await load_account(session, account_id, grant.scope)
    rows = await config_service.list_overrides(session, account)
    return ServiceOverrideList(overrides=[ServiceOverrideOut.model_validate(row) for row in rows])


@router.put(
    "/accounts/{account_id}/service-overrides/{provider}/{service}",
    response_model=ServiceOverrideOut,
    response_model_exclude_none=True,
    status_code=200,
)
async def replace_service_override(
    account_id: AccountId,
    provider: Provider,
    service: ServiceName,
    body: ServiceOverrideReplace,
    session: SessionDep,
    grant: UpdateGrant,
) -> ServiceOverrideOut:
    """Replace the account's override of one service: absent or null fields inherit.

    A provider other than the account's is 400 (`provider_mismatch`). A body that sets no
    field removes the override and answers `{provider, service}` without `updated_at`.
    """
    account = await load_account(session, account_id, grant.scope)
    row = await config_service.replace_override(
        session, grant.principal, account, provider, service, body
    )
    if row is None:
        return ServiceOverrideOut(provider=provider, service=service)
    return ServiceOverrideOut.model_validate(row)


@router.delete(
    "/accounts/{account_id}/service-overrides/{provider}/{service}",
    status_code=204,
    response_class=Response,
)
async def delete_service_override(
    account_id: AccountId,
    provider: Provider,
    service: ServiceName,
    session: SessionDep,
    grant: UpdateGrant,
) -> Response:
    """Remove the account's override of one service (back to the global default).

    Idempotent: 204 whether or not an override existed.
    """
    account = await load_account(session, account_id, grant.scope)
    await config_service.delete_override(session, grant.principal, account, provider, service)
    return Response(status_code=204)


@router.get(
    "/accounts/{account_id}/effective-config",
    response_model=EffectiveConfigOut,
    status_code=200,
)
async def get_effective_config(
    account_id: AccountId, session: ReadSessionDep, grant: ViewGrant
) -> EffectiveConfigOut:
    """Every service of the account's provider with each field's merged value and source."""
    account = await load_account(session, account_id, grant.scope)
    configs = await config_service.effective_configs(session, account)
    return EffectiveConfigOut(
        account_id=account.id,
        services=[EffectiveServiceConfigOut.model_validate(config) for config in configs],
    )
