"""Discover the members of an organisation, tenant or GCP organisation and register them.

Members are created **disabled**, so nothing is collected or bought for them until someone
reviews and enables them. What each member inherits from the root:

- AWS: ``aws_auth_mode=bastion`` through the root (or through the root's own bastion when
  the root is itself in bastion mode: chains are not supported), ``aws_role_arn`` =
  ``arn:aws:iam::<member>:role/<CUDLY_DISCOVERY_ROLE_NAME>`` and the root's
  ``aws_external_id`` — the target-account role module trusts the CUDly identity with one
  ExternalId across the organisation.
- Azure: the root's tenant, client id and auth mode (the same service principal is granted
  on every subscription); the secret is not copied — store credentials before enabling.
- GCP: the root's service-account email and auth mode; likewise no key is copied.

The root itself, suspended/closed members and ids that fail validation are reported in
``ignored`` and count neither as discovered nor as skipped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts import repository as accounts_repository
from api.accounts.validation import normalize_external_id
from api.audit import service as audit
from api.auth.permissions import Principal
from api.config import Settings
from api.credentials.service import resolve_account_auth, scrub, secrets_of
from api.db import unit_of_work
from api.enums import AwsAuthMode, Provider
from api.errors import BadRequest, NotFound, UpstreamError
from api.kit.crypto import KeyRing
from api.models import CloudAccount
from api.providers.base import DiscoveredMember, ProviderError
from api.providers.registry import discoverer

logger = logging.getLogger(__name__)

NAME_MAX = 255


@dataclass
class DiscoveryResult:
    accounts: list[tuple[str, str, bool, uuid.UUID | None]] = field(default_factory=list)
    ignored: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for _, _, created, _ in self.accounts if created)

    @property
    def skipped(self) -> int:
        return len(self.accounts) - self.created


def _is_root(account: CloudAccount) -> bool:
    return (
        account.aws_is_org_root if account.provider == Provider.aws else account.is_discovery_root
    )


def _member_row(
    root: CloudAccount,
    member: DiscoveredMember,
    external_id: str,
    settings: Settings,
    actor: Principal,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": (member.name.strip() or external_id)[:NAME_MAX],
        "provider": root.provider,
        "external_id": external_id,
        "enabled": False,
        "description": f"Discovered from {root.name} ({root.external_id})"[:NAME_MAX],
        "created_by": actor.user_id,
    }
    if root.provider == Provider.aws:
        root_mode = root.aws_auth_mode or AwsAuthMode.access_keys.value
        row |= {
            "aws_auth_mode": AwsAuthMode.bastion.value,
            "aws_bastion_id": root.aws_bastion_id if root_mode == AwsAuthMode.bastion else root.id,
            "aws_role_arn": f"arn:aws:iam::{external_id}:role/{settings.clouds.discovery_role_name}",
            "aws_external_id": root.aws_external_id,
        }
    elif root.provider == Provider.azure:
        row |= {
            "azure_subscription_id": external_id,
            "azure_tenant_id": member.tenant_id or root.azure_tenant_id,
            "azure_client_id": root.azure_client_id,
            "azure_auth_mode": root.azure_auth_mode,
        }
    else:
        row |= {
            "gcp_project_id": external_id,
            "gcp_client_email": root.gcp_client_email,
            "gcp_auth_mode": root.gcp_auth_mode,
        }
    return row


async def discover_members(
    maker: async_sessionmaker[AsyncSession],
    key_ring: KeyRing,
    settings: Settings,
    actor: Principal,
    root_id: uuid.UUID,
) -> DiscoveryResult:
    """List the root's members with its own credentials and register the new ones, disabled.

    Three steps, so no transaction (nor pooled connection) is held while the cloud answers:
    read the root and resolve its credentials; list the members; then, in a new transaction
    with the root share-locked and read again, insert the members and audit.
    """
    async with unit_of_work(maker) as session:
        root = await _load_root(session, root_id)
        try:
            auth = await resolve_account_auth(session, key_ring, root)
        except ProviderError as exc:
            raise BadRequest(
                f"cannot act as the root account: {exc.message}", code="root_credentials"
            ) from None
    try:
        members = await discoverer(Provider(root.provider)).discover(auth, settings)
    except ProviderError as exc:
        message = scrub(exc.message, secrets_of(auth))
        raise UpstreamError(f"discovery failed: {message}", code="discovery_failed") from None

    async with unit_of_work(maker) as session:
        # The root may have changed (or gone) while the cloud answered: members inherit from
        # the root as it is now, and it cannot change again before this commits.
        root = await _load_root(session, root_id, for_share=True)
        return await _register(session, root, members, settings, actor)


async def _load_root(
    session: AsyncSession, root_id: uuid.UUID, *, for_share: bool = False
) -> CloudAccount:
    if for_share:
        root = await accounts_repository.get_account_for_share(session, root_id)
    else:
        root = await accounts_repository.get_account(session, root_id)
    if root is None:
        raise NotFound("cloud account not found", code="account_not_found")
    if not _is_root(root):
        flag = "aws_is_org_root" if root.provider == Provider.aws else "is_discovery_root"
        raise BadRequest(
            f"account {root.name!r} is not a discovery root: set {flag} on it first",
            code="not_discovery_root",
        )
    return root


async def _register(
    session: AsyncSession,
    root: CloudAccount,
    members: Sequence[DiscoveredMember],
    settings: Settings,
    actor: Principal,
) -> DiscoveryResult:
    result = DiscoveryResult()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for member in members:
        try:
            external_id = normalize_external_id(Provider(root.provider), member.external_id)
        except ValueError:
            result.ignored.append(
                (member.name, member.external_id, "not a valid id for this provider")
            )
            continue
        if external_id == root.external_id:
            result.ignored.append((member.name, external_id, "the discovery root itself"))
        elif not member.active:
            result.ignored.append((member.name, external_id, f"state {member.state}"))
        elif external_id not in seen:
            seen.add(external_id)
            rows.append(_member_row(root, member, external_id, settings, actor))

    created = await accounts_repository.insert_discovered_accounts(session, rows)
    for row in rows:
        account_id = created.get(row["external_id"])
        result.accounts.append(
            (row["name"], row["external_id"], account_id is not None, account_id)
        )
        if account_id is not None:
            await audit.record(
                session, actor, "account.create", "cloud_account", account_id, row.keys()
            )
    await audit.record(session, actor, "account.discover", "cloud_account", root.id, ())
    logger.info(
        "discovery finished",
        extra={"root_id": str(root.id), "discovered": len(rows), "created_count": result.created},
    )
    return result
