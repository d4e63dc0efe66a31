"""AWS Organizations member discovery: ``ListAccounts``, every page, as the root account."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from api.config import Settings
from api.enums import Provider
from api.providers.aws.client import (
    _code,
    _describe,
    _signer_error,
    resolve_session,
    sdk_error,
    session_for,
)
from api.providers.awssdk import client_kwargs
from api.providers.base import AccountAuth, DiscoveredMember, ProviderError

PAGE_SIZE = 20  # the API's maximum
MAX_PAGES = 10_000  # a NextToken that never ends is a bug upstream, not a reason to spin
ACTIVE_STATES = {"ACTIVE"}


def _member(raw: dict[str, Any]) -> DiscoveredMember:
    # ``State`` replaced ``Status`` (retired); older answers carry only ``Status``.
    state = str(raw.get("State") or raw.get("Status") or "UNKNOWN")
    return DiscoveredMember(
        external_id=str(raw.get("Id", "")),
        name=str(raw.get("Name") or raw.get("Id") or ""),
        state=state,
        active=state in ACTIVE_STATES,
    )


def _organizations_error(exc: ClientError, signer: str) -> ProviderError:
    code, message = _code(exc)
    known = _signer_error(code, signer)
    if known is not None:
        return known
    if code in {"AccessDeniedException", "AccessDenied"}:
        return ProviderError(
            f"AWS refused organizations:ListAccounts for {signer} ({code}): run discovery from "
            "the organisation's management account or a delegated administrator, and allow "
            "organizations:ListAccounts to its identity",
            code="aws_discovery_denied",
        )
    if code.isdigit():
        # No parseable AWS error code (a proxy or a non-JSON body): never echo the body.
        return ProviderError(
            f"AWS answered HTTP {code} to organizations:ListAccounts for {signer}: its "
            "credentials were refused or lack organizations:ListAccounts; run the connectivity "
            "test on the root account",
            code="aws_discovery_denied",
        )
    if code == "AWSOrganizationsNotInUseException":
        return ProviderError(
            f"{signer} is not a member of an AWS organisation ({code}): clear aws_is_org_root "
            "or point discovery at the management account",
            code="aws_not_in_organization",
        )
    return ProviderError(
        f"AWS refused organizations:ListAccounts ({code}): {message}", code="aws_discovery_failed"
    )


class AwsDiscoverer:
    provider = Provider.aws

    async def discover(self, auth: AccountAuth, settings: Settings) -> list[DiscoveredMember]:
        """All accounts of the organisation, paging until ``NextToken`` is absent."""
        credentials = await resolve_session(auth, settings)
        members: list[DiscoveredMember] = []
        try:
            async with session_for(credentials).client(
                "organizations", **client_kwargs(settings)
            ) as org:
                token: str | None = None
                for _ in range(MAX_PAGES):
                    request: dict[str, Any] = {"MaxResults": PAGE_SIZE}
                    if token:
                        request["NextToken"] = token
                    page = await org.list_accounts(**request)
                    members.extend(_member(raw) for raw in page.get("Accounts", []))
                    # A page may be empty while NextToken is set: keep going until it is null.
                    token = page.get("NextToken")
                    if not token:
                        return members
        except ClientError as exc:
            raise _organizations_error(exc, _describe(auth)) from None
        except BotoCoreError as exc:
            raise sdk_error(exc, "ListAccounts") from None
        raise ProviderError("ListAccounts never stopped paging", code="aws_discovery_failed")
