"""Azure collection: Consumption reservation recommendations and the reservations inventory.

One subscription's sweep with its own service principal (token from
:func:`~api.providers.azure.client.access_token`), over the process's shared httpx client:

1. ``GET /subscriptions/{id}`` - its ``subscriptionId`` must equal ``external_id``;
2. per enabled service (vm, sql, cosmosdb, redis) ``GET /subscriptions/{id}/providers/
   Microsoft.Consumption/reservationRecommendations`` filtered to single scope, 30-day
   look-back and the service's resource type, every page (``nextLink``); 204 = none; P1Y
   and P3Y come mixed and are filtered to the configured term;
3. ``GET /providers/Microsoft.Capacity/reservations`` (every page), keeping reservations
   applied to this subscription. Refused (403: the principal lacks Reservations Reader) →
   a warning and ``commitments=None``.

429s are retried with the Consumption/ARM wait hints inside the account's budget.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import httpx

from api.config import Settings
from api.enums import Payment, Provider
from api.providers.azure import mapper
from api.providers.azure.client import (
    ARM_API_VERSION,
    _arm_error,
    _principal,
    _subscription_id,
    access_token,
)
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
from api.providers.filters import allows, enabled_services
from api.providers.paging import arm_pages
from api.providers.retry import ARM_RETRY_HEADERS, RetryPolicy, http_call, malformed
from api.service_config.merge import EffectiveServiceConfig

CONSUMPTION_API_VERSION = "2024-08-01"
CAPACITY_API_VERSION = "2022-11-01"
LOOKBACK = "Last30Days"


def _unreachable(exc: httpx.HTTPError, settings: Settings) -> ProviderError:
    return ProviderError(
        f"could not reach ARM at {settings.clouds.azure_management_url} ({type(exc).__name__}): "
        "check network access and CUDLY_CA_BUNDLE",
        code="azure_unreachable",
    )


def _consumption_error(
    response: httpx.Response, subscription: str, client_id: str
) -> ProviderError:
    if response.status_code == 403:
        return ProviderError(
            f"the service principal {client_id} may not read reservation recommendations of "
            f"subscription {subscription}: assign it the Reader (or Cost Management Reader) "
            "role on the subscription",
            code="azure_forbidden",
        )
    return _arm_error(response, subscription, client_id)


class AzureCollector:
    """Recommendations (Consumption) and reservations of one subscription."""

    provider = Provider.azure

    async def collect(
        self,
        auth: AccountAuth,
        config: Sequence[EffectiveServiceConfig],
        settings: Settings,
        clients: ProviderClients,
    ) -> SweepResult:
        """The subscription's sweep (see the module docstring). Raises ProviderError."""
        policy = RetryPolicy.within(settings.scheduler.account_timeout_s)
        subscription = _subscription_id(auth)
        tenant, client_id = _principal(auth)
        services = enabled_services(config, Provider.azure)
        token = await access_token(auth, settings, clients)
        base = settings.clouds.azure_management_url.rstrip("/")
        http = clients.http
        try:
            await self._identity(http, base, token, auth, subscription, client_id, policy)
            found: list[RecommendationData] = []
            for service, resource_type in mapper.SERVICE_RESOURCE_TYPES.items():
                if service in services:
                    found += await self._recommendations(
                        http,
                        base,
                        token,
                        subscription,
                        client_id,
                        service,
                        resource_type,
                        services[service],
                        policy,
                    )
        except httpx.HTTPError as exc:
            raise _unreachable(exc, settings) from None
        commitments, warnings = await self._inventory(
            http, base, token, subscription, client_id, policy, settings
        )
        return SweepResult(
            recommendations=sum_by_key(found),
            commitments=commitments,
            warnings=warnings,
            caller_identity=f"{client_id} (tenant {tenant})",
        )

    async def _identity(
        self,
        http: httpx.AsyncClient,
        base: str,
        token: str,
        auth: AccountAuth,
        subscription: str,
        client_id: str,
        policy: RetryPolicy,
    ) -> None:
        response = await http_call(
            policy,
            functools.partial(
                http.get,
                f"{base}/subscriptions/{subscription}",
                params={"api-version": ARM_API_VERSION},
                headers={"Authorization": f"Bearer {token}"},
            ),
            what="ARM subscriptions.get",
            hint_headers=ARM_RETRY_HEADERS,
        )
        if response.status_code != 200:
            raise _arm_error(response, subscription, client_id)
        try:
            seen = str(response.json().get("subscriptionId", "")).lower()
        except (ValueError, AttributeError):
            raise malformed("ARM subscriptions.get") from None
        ensure_identity(
            Provider.azure, auth.account.external_id.lower(), seen, what="Azure subscription"
        )

    async def _recommendations(
        self,
        http: httpx.AsyncClient,
        base: str,
        token: str,
        subscription: str,
        client_id: str,
        service: str,
        resource_type: str,
        config: EffectiveServiceConfig,
        policy: RetryPolicy,
    ) -> list[RecommendationData]:
        url = (
            f"{base}/subscriptions/{subscription}/providers/"
            "Microsoft.Consumption/reservationRecommendations"
        )
        params = {
            "api-version": CONSUMPTION_API_VERSION,
            "$filter": (
                f"properties/scope eq 'Single' AND properties/lookBackPeriod eq '{LOOKBACK}' "
                f"AND properties/resourceType eq '{resource_type}'"
            ),
        }
        found: list[RecommendationData] = []
        async for page in arm_pages(
            http,
            url,
            params=params,
            token=token,
            base_url=base,
            policy=policy,
            what=f"Azure reservation recommendations ({service})",
            error=lambda r: _consumption_error(r, subscription, client_id),
        ):
            found += mapper.recommendations(
                service, page, config.term.value, Payment(config.payment.value)
            )
        return [item for item in found if allows(config, item)]

    async def _inventory(
        self,
        http: httpx.AsyncClient,
        base: str,
        token: str,
        subscription: str,
        client_id: str,
        policy: RetryPolicy,
        settings: Settings,
    ) -> tuple[list[CommitmentData] | None, list[str]]:
        found: list[CommitmentData] = []
        try:
            async for page in arm_pages(
                http,
                f"{base}/providers/Microsoft.Capacity/reservations",
                params={"api-version": CAPACITY_API_VERSION},
                token=token,
                base_url=base,
                policy=policy,
                what="Azure reservations",
                error=lambda r: _arm_error(r, subscription, client_id),
            ):
                values = page.get("value") or []
                if not isinstance(values, list):
                    raise malformed("Azure reservations", "value is not a list")
                found += [
                    mapper.reservation(item)
                    for item in values
                    if isinstance(item, dict) and mapper.applies_to(item, subscription)
                ]
        except httpx.HTTPError as exc:
            return None, [f"inventory not refreshed: {_unreachable(exc, settings).message}"]
        except ProviderError as exc:
            if exc.code == "azure_forbidden":
                return None, [
                    f"inventory not available: the service principal {client_id} may not list "
                    "reservations (Microsoft.Capacity/reservations/read): assign it the "
                    "Reservations Reader role"
                ]
            return None, [f"inventory not refreshed: {exc.message}"]
        return found, []
