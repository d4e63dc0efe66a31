"""Azure reservations: ``calculatePrice`` then ``PUT reservationOrders/{id}`` (long-running).

The reservation order id is the idempotency key (``shared/CLOUD_APIS.md``): ARM mints it in
``calculatePrice``, which runs as the line's offering lookup, so the id is stored on the line
(``offering_id``) *before* the line is claimed. A repeated PUT of the same order hits the same
order; after a crash ``GET reservationOrders/{id}`` says whether it exists. Progress is
followed by polling that GET on the configured ARM base (a ``Location`` header is never
followed: no answer chooses where the server connects).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from api.config import Settings
from api.enums import Payment, Provider
from api.providers.azure.client import AzureProvider, _subscription_id, access_token
from api.providers.base import (
    AccountAuth,
    ProviderError,
    PurchaseRejected,
    PurchaseRequest,
    PurchaseResult,
)
from api.providers.http import error_summary

if TYPE_CHECKING:
    from api.providers.clients import ProviderClients

API_VERSION = "2022-11-01"
RESOURCE_TYPES = {
    "vm": "VirtualMachines",
    "sql": "SqlDatabases",
    "cosmosdb": "CosmosDb",
    "redis": "RedisCache",
}
POLL_ATTEMPTS = 60
_DONE = {"Succeeded"}
_FAILED = {"Failed", "Cancelled", "Expired"}


def _message(response: httpx.Response) -> str:
    return error_summary(response, "code")


class AzurePurchaser:
    """Reservation orders billed to (and scoped to) the account's own subscription."""

    provider = Provider.azure

    async def confirm_identity(
        self, auth: AccountAuth, settings: Settings, clients: ProviderClients
    ) -> str:
        result = await AzureProvider().test_connectivity(auth, settings)
        return result.caller_identity or ""

    def _body(self, auth: AccountAuth, request: PurchaseRequest) -> dict[str, Any]:
        subscription = f"/subscriptions/{_subscription_id(auth)}"
        return {
            "sku": {"name": request.resource_type},
            "location": request.region,
            "properties": {
                "reservedResourceType": RESOURCE_TYPES.get(request.service, "VirtualMachines"),
                "billingScopeId": subscription,
                "term": f"P{request.term}Y",
                "billingPlan": "Upfront" if request.payment == Payment.all_upfront else "Monthly",
                "quantity": int(request.count),
                "displayName": f"cudly-{request.idempotency_key}",
                "appliedScopeType": "Single",
                "appliedScopes": [subscription],
            },
        }

    async def _call(
        self,
        clients: ProviderClients,
        settings: Settings,
        method: str,
        path: str,
        token: str,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        try:
            return await clients.http.request(
                method,
                f"{settings.clouds.azure_management_url}{path}",
                params={"api-version": API_VERSION},
                headers={"Authorization": f"Bearer {token}"},
                json=body,
            )
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not reach ARM ({type(exc).__name__})", code="azure_unreachable"
            ) from None

    async def find_offering(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> str | None:
        """``calculatePrice``: the price check, and the reservation order id to buy under."""
        token = await access_token(auth, settings)
        response = await self._call(
            clients,
            settings,
            "POST",
            "/providers/Microsoft.Capacity/calculatePrice",
            token,
            self._body(auth, request),
        )
        if response.status_code != 200:
            raise ProviderError(
                f"Azure refused the price calculation ({_message(response)})", code="azure_price"
            )
        order = (response.json().get("properties") or {}).get("reservationOrderId")
        if not order:
            raise ProviderError("Azure returned no reservation order id", code="azure_price")
        return str(order)

    async def purchase(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult:
        """PUT the order (the same id on every attempt) and wait until it succeeded."""
        order = request.offering_id
        if not order:
            raise PurchaseRejected("the line has no reservation order id", code="no_offering")
        token = await access_token(auth, settings)
        path = f"/providers/Microsoft.Capacity/reservationOrders/{order}"
        response = await self._call(
            clients, settings, "PUT", path, token, self._body(auth, request)
        )
        if 400 <= response.status_code < 500 and response.status_code not in (408, 409, 429):
            raise PurchaseRejected(
                f"Azure refused the reservation ({_message(response)})",
                code="azure_purchase_refused",
            )
        if response.status_code not in (200, 201, 202):
            raise ProviderError(
                f"ARM answered {response.status_code}", code="azure_purchase_unknown"
            )
        for attempt in range(POLL_ATTEMPTS):
            found = await self._order_state(clients, settings, path, token)
            if found in _DONE:
                return PurchaseResult(provider_commitment_id=order)
            if found in _FAILED:
                raise PurchaseRejected(
                    f"the reservation order ended {found}", code="azure_purchase_refused"
                )
            await asyncio.sleep(min(0.2 * (attempt + 1), 5.0))
        raise ProviderError("the reservation order is still being created", code="azure_pending")

    async def _order_state(
        self, clients: ProviderClients, settings: Settings, path: str, token: str
    ) -> str | None:
        response = await self._call(clients, settings, "GET", path, token)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ProviderError(
                f"reading the reservation order failed ({_message(response)})",
                code="azure_reconcile",
            )
        return str((response.json().get("properties") or {}).get("provisioningState", ""))

    async def reconcile(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult | None:
        """The order if it exists and succeeded; None when ARM has no such order."""
        if not request.offering_id:
            return None
        token = await access_token(auth, settings)
        path = f"/providers/Microsoft.Capacity/reservationOrders/{request.offering_id}"
        state = await self._order_state(clients, settings, path, token)
        if state is None:
            return None
        if state in _DONE:
            return PurchaseResult(provider_commitment_id=request.offering_id)
        if state in _FAILED:
            raise PurchaseRejected(f"the reservation order ended {state}")
        raise ProviderError("the reservation order is still being created", code="azure_pending")
