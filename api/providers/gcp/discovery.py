"""GCP member discovery: the projects under the root project's organisation (or folder).

The root's parent comes from ``projects.get`` on the root itself; then
``projects:search?query=parent:<parent> state:ACTIVE`` is paged by ``nextPageToken``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from api.config import Settings
from api.enums import Provider
from api.providers.base import AccountAuth, DiscoveredMember, ProviderError
from api.providers.gcp.client import _api_error, _project_id, access_token
from api.providers.http import async_client

MAX_PAGES = 10_000
PARENT = re.compile(r"^(organizations|folders)/\d{1,32}$")


def _member(raw: dict[str, Any]) -> DiscoveredMember:
    project = str(raw.get("projectId", ""))
    state = str(raw.get("state") or "STATE_UNSPECIFIED")
    return DiscoveredMember(
        external_id=project,
        name=str(raw.get("displayName") or project),
        state=state,
        active=state == "ACTIVE",
    )


def _search_error(response: httpx.Response, parent: str, identity: str) -> ProviderError:
    if response.status_code == 403:
        return ProviderError(
            f"{identity} may not list the projects of {parent} (PERMISSION_DENIED): grant it "
            "resourcemanager.projects.list (e.g. roles/browser) on the organisation",
            code="gcp_discovery_denied",
        )
    if response.status_code == 429:
        return ProviderError(
            "Google throttled the request (RESOURCE_EXHAUSTED): try again in a minute",
            code="gcp_throttled",
        )
    return ProviderError(f"projects.search answered {response.status_code}", code="gcp_error")


class GcpDiscoverer:
    provider = Provider.gcp

    async def discover(self, auth: AccountAuth, settings: Settings) -> list[DiscoveredMember]:
        """All active projects under the root project's parent, every page."""
        root = _project_id(auth)
        token, identity = await access_token(auth, settings)
        base = settings.clouds.gcp_api_base_cloudresourcemanager
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with async_client(settings) as http:
                answer = await http.get(f"{base}/v3/projects/{root}", headers=headers)
                if answer.status_code != 200:
                    raise _api_error(answer, root, identity)
                parent = str(answer.json().get("parent", ""))
                if not PARENT.match(parent):
                    raise ProviderError(
                        f"project {root} has no organisation or folder parent ({parent or 'none'}): "
                        "discovery lists the projects of the root's organisation",
                        code="gcp_no_organization",
                    )
                members: list[DiscoveredMember] = []
                page_token = ""
                for _ in range(MAX_PAGES):
                    params = {"query": f"parent:{parent} state:ACTIVE", "pageSize": "500"}
                    if page_token:
                        params["pageToken"] = page_token
                    response = await http.get(
                        f"{base}/v3/projects:search", params=params, headers=headers
                    )
                    if response.status_code != 200:
                        raise _search_error(response, parent, identity)
                    page = response.json()
                    members.extend(_member(raw) for raw in page.get("projects", []))
                    page_token = str(page.get("nextPageToken") or "")
                    if not page_token:
                        return members
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not reach Cloud Resource Manager ({type(exc).__name__}): check network access and CUDLY_CA_BUNDLE",
                code="gcp_unreachable",
            ) from None
        except ValueError:
            raise ProviderError(
                "Cloud Resource Manager answered with something that is not JSON", code="gcp_error"
            ) from None
        raise ProviderError("projects.search never stopped paging", code="gcp_error")
