"""GCP collection: Recommender commitment recommendations and the commitments inventory.

One project's sweep with its own credentials (token from
:func:`~api.providers.gcp.client.access_token`), over the process's shared httpx client:

1. Cloud Resource Manager ``projects.get`` - its ``projectId`` must equal ``external_id``;
2. when ``compute`` is enabled: the regions (the config's ``include_regions``, else Compute
   ``regions.list``, every page; ``exclude_regions`` removed), then per region
   ``google.compute.commitment.UsageCommitmentRecommender`` recommendations (state ACTIVE),
   every page (``pageToken``), kept for the configured term;
3. Compute ``aggregated/commitments`` (every page). Refused (403) → a warning and
   ``commitments=None``.

Cloud SQL's spend-based CUD recommender lives on the billing account, which an account
(project) does not name: with ``cloudsql`` enabled the sweep says so in a warning.
429 ``RESOURCE_EXHAUSTED`` is retried inside the account's budget.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import httpx

from api.config import Settings
from api.enums import Provider
from api.providers.base import (
    AccountAuth,
    CommitmentData,
    ProviderError,
    RecommendationData,
    SweepResult,
    ensure_identity,
    sum_by_key,
)
from api.providers.clients import ProviderClients
from api.providers.filters import allows, enabled_services, region_allowed
from api.providers.gcp import mapper
from api.providers.gcp.client import _api_error, _project_id, access_token
from api.providers.paging import google_pages
from api.providers.retry import GOOGLE_RETRY_HEADERS, RetryPolicy, http_call, malformed
from api.service_config.merge import EffectiveServiceConfig

RECOMMENDER = "google.compute.commitment.UsageCommitmentRecommender"
CLOUDSQL_WARNING = (
    "cloudsql: Cloud SQL committed-use recommendations come from the billing account's "
    "spend-based recommender and are not collected per project"
)


def _unreachable(what: str, exc: httpx.HTTPError) -> ProviderError:
    return ProviderError(
        f"could not reach {what} ({type(exc).__name__}): check network access and CUDLY_CA_BUNDLE",
        code="gcp_unreachable",
    )


def _google_error(
    response: httpx.Response, project: str, identity: str, permission: str, role: str
) -> ProviderError:
    if response.status_code == 403:
        return ProviderError(
            f"{identity} may not call {permission} on project {project}: grant it {role}",
            code="gcp_forbidden",
        )
    return _api_error(response, project, identity)


class GcpCollector:
    """Recommendations (Recommender) and commitments of one project."""

    provider = Provider.gcp

    async def collect(
        self,
        auth: AccountAuth,
        config: Sequence[EffectiveServiceConfig],
        settings: Settings,
        clients: ProviderClients,
    ) -> SweepResult:
        """The project's sweep (see the module docstring). Raises ProviderError."""
        policy = RetryPolicy.within(settings.scheduler.account_timeout_s)
        project = _project_id(auth)
        services = enabled_services(config, Provider.gcp)
        token, identity = await access_token(auth, settings, clients)
        http = clients.http
        warnings: list[str] = []
        found: list[RecommendationData] = []
        try:
            await self._identity(http, settings, token, auth, project, identity, policy)
            if mapper.SERVICE in services:
                compute = services[mapper.SERVICE]
                for region in await self._regions(
                    http, settings, token, project, identity, compute, policy
                ):
                    found += await self._recommendations(
                        http, settings, token, project, identity, region, compute, policy
                    )
        except httpx.HTTPError as exc:
            raise _unreachable("the Google APIs", exc) from None
        if "cloudsql" in services:
            warnings.append(CLOUDSQL_WARNING)
        commitments, inventory_warnings = await self._inventory(
            http, settings, token, project, identity, policy
        )
        return SweepResult(
            recommendations=sum_by_key(found),
            commitments=commitments,
            warnings=warnings + inventory_warnings,
            caller_identity=identity,
        )

    async def _identity(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        token: str,
        auth: AccountAuth,
        project: str,
        identity: str,
        policy: RetryPolicy,
    ) -> None:
        url = f"{settings.clouds.gcp_api_base_cloudresourcemanager}/v3/projects/{project}"
        response = await http_call(
            policy,
            functools.partial(http.get, url, headers={"Authorization": f"Bearer {token}"}),
            what="Cloud Resource Manager projects.get",
            hint_headers=GOOGLE_RETRY_HEADERS,
        )
        if response.status_code != 200:
            raise _api_error(response, project, identity)
        try:
            seen = str(response.json().get("projectId", ""))
        except (ValueError, AttributeError):
            raise malformed("Cloud Resource Manager projects.get") from None
        ensure_identity(Provider.gcp, auth.account.external_id, seen, what="GCP project")

    async def _regions(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        token: str,
        project: str,
        identity: str,
        config: EffectiveServiceConfig,
        policy: RetryPolicy,
    ) -> list[str]:
        if config.include_regions.value:
            return [r for r in config.include_regions.value if region_allowed(config, r)]
        regions: list[str] = []
        async for page in google_pages(
            http,
            f"{settings.clouds.gcp_api_base_compute}/compute/v1/projects/{project}/regions",
            params={},
            token=token,
            policy=policy,
            what="Compute regions.list",
            error=lambda r: _google_error(
                r, project, identity, "compute.regions.list", "roles/compute.viewer"
            ),
        ):
            items = page.get("items") or []
            if not isinstance(items, list):
                raise malformed("Compute regions.list", "items is not a list")
            regions += [str(i.get("name")) for i in items if isinstance(i, dict) and i.get("name")]
        return [r for r in regions if region_allowed(config, r)]

    async def _recommendations(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        token: str,
        project: str,
        identity: str,
        region: str,
        config: EffectiveServiceConfig,
        policy: RetryPolicy,
    ) -> list[RecommendationData]:
        url = (
            f"{settings.clouds.gcp_api_base_recommender}/v1/projects/{project}/locations/{region}/"
            f"recommenders/{RECOMMENDER}/recommendations"
        )
        found: list[RecommendationData] = []
        async for page in google_pages(
            http,
            url,
            params={"filter": "stateInfo.state = ACTIVE"},
            token=token,
            policy=policy,
            what=f"Recommender commitment recommendations ({region})",
            error=lambda r: _google_error(
                r,
                project,
                identity,
                "recommender.commitmentUtilizationInsights.list / recommendations.list",
                "roles/recommender.computeViewer",
            ),
        ):
            found += mapper.recommendations(region, page, config.term.value)
        return [item for item in found if allows(config, item)]

    async def _inventory(
        self,
        http: httpx.AsyncClient,
        settings: Settings,
        token: str,
        project: str,
        identity: str,
        policy: RetryPolicy,
    ) -> tuple[list[CommitmentData] | None, list[str]]:
        found: list[CommitmentData] = []
        try:
            async for page in google_pages(
                http,
                f"{settings.clouds.gcp_api_base_compute}/compute/v1/projects/{project}/aggregated/commitments",
                params={},
                token=token,
                policy=policy,
                what="Compute commitments.aggregatedList",
                error=lambda r: _google_error(
                    r, project, identity, "compute.commitments.list", "roles/compute.viewer"
                ),
            ):
                found += mapper.commitments(page)
        except httpx.HTTPError as exc:
            return None, [f"inventory not refreshed: {_unreachable('Compute', exc).message}"]
        except ProviderError as exc:
            if exc.code == "gcp_forbidden":
                return None, [f"inventory not available: {exc.message}"]
            return None, [f"inventory not refreshed: {exc.message}"]
        return found, []
