"""Azure member discovery: every subscription the root's service principal can see.

``GET /subscriptions`` pages by an absolute ``nextLink``; a link is followed only when it
points under ``CUDLY_AZURE_MANAGEMENT_URL`` (no answer from the network chooses a host).
"""

from __future__ import annotations

from typing import Any

import httpx

from api.config import Settings
from api.enums import Provider
from api.providers.azure.client import ARM_API_VERSION, _arm_error, _principal, access_token
from api.providers.base import AccountAuth, DiscoveredMember, ProviderError
from api.providers.http import async_client

MAX_PAGES = 10_000
# Warned and PastDue subscriptions still run workloads (and can hold reservations).
ACTIVE_STATES = {"Enabled", "Warned", "PastDue"}


def _member(raw: dict[str, Any]) -> DiscoveredMember:
    subscription = str(raw.get("subscriptionId", "")).lower()
    state = str(raw.get("state") or "Unknown")
    return DiscoveredMember(
        external_id=subscription,
        name=str(raw.get("displayName") or subscription),
        state=state,
        active=state in ACTIVE_STATES,
        tenant_id=str(raw["tenantId"]).lower() if raw.get("tenantId") else None,
    )


class AzureDiscoverer:
    provider = Provider.azure

    async def discover(self, auth: AccountAuth, settings: Settings) -> list[DiscoveredMember]:
        """All subscriptions visible to the root's service principal, every page."""
        _, client_id = _principal(auth)
        token = await access_token(auth, settings)
        base = settings.clouds.azure_management_url
        url: str | None = f"{base}/subscriptions?api-version={ARM_API_VERSION}"
        members: list[DiscoveredMember] = []
        try:
            async with async_client(settings) as http:
                for _ in range(MAX_PAGES):
                    assert url is not None
                    response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
                    if response.status_code != 200:
                        raise _arm_error(response, "(list)", client_id)
                    page = response.json()
                    members.extend(_member(raw) for raw in page.get("value", []))
                    url = page.get("nextLink")
                    if not url:
                        return members
                    if not str(url).startswith(f"{base}/"):
                        raise ProviderError(
                            "ARM returned a nextLink outside CUDLY_AZURE_MANAGEMENT_URL; refusing to follow it",
                            code="azure_bad_next_link",
                        )
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not reach ARM at {base} ({type(exc).__name__}): check network access and CUDLY_CA_BUNDLE",
                code="azure_unreachable",
            ) from None
        except ValueError:
            raise ProviderError(
                "ARM answered with something that is not JSON", code="azure_error"
            ) from None
        raise ProviderError("ARM never stopped paging", code="azure_error")
