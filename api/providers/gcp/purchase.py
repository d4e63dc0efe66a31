"""GCP committed-use discounts: ``regionCommitments.insert`` (``shared/CLOUD_APIS.md``).

The line's key is the ``requestId`` (a UUID: Compute keeps it for a while and answers the
same operation for a repeat) and names the commitment deterministically (``cudly-<key>``),
so after a crash ``GET …/commitments/cudly-<key>`` says whether it was bought. The insert's
operation is polled until ``DONE``. Recommendation ``details`` the purchaser reads:
``type`` (e.g. ``GENERAL_PURPOSE_N2``, default ``GENERAL_PURPOSE``) and ``resources``
(``[{type: VCPU|MEMORY, amount}]``, memory in MB), bought as recommended.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from api.config import Settings
from api.enums import Provider
from api.providers.base import (
    AccountAuth,
    ProviderError,
    PurchaseRejected,
    PurchaseRequest,
    PurchaseResult,
)
from api.providers.gcp.client import GcpProvider, access_token
from api.providers.http import error_summary

if TYPE_CHECKING:
    from api.providers.clients import ProviderClients

PLANS = {1: "TWELVE_MONTH", 3: "THIRTY_SIX_MONTH"}
POLL_ATTEMPTS = 60


def commitment_name(request: PurchaseRequest) -> str:
    return f"cudly-{request.idempotency_key}"


def _project(auth: AccountAuth) -> str:
    return auth.account.gcp_project_id or auth.account.external_id


def _message(response: httpx.Response) -> str:
    return error_summary(response, "status")


class GcpPurchaser:
    """Compute Engine commitments, acting as the project's own service account."""

    provider = Provider.gcp

    async def confirm_identity(
        self, auth: AccountAuth, settings: Settings, clients: ProviderClients
    ) -> str:
        """The connectivity test's ``projects.get``: the project must be the account's."""
        result = await GcpProvider().test_connectivity(auth, settings)
        return result.caller_identity or ""

    async def find_offering(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> str | None:
        return None  # commitments are bought by resources, not from an offering

    def _base(self, auth: AccountAuth, request: PurchaseRequest, settings: Settings) -> str:
        return (
            f"{settings.clouds.gcp_api_base_compute}/compute/v1/projects/{_project(auth)}"
            f"/regions/{request.region}"
        )

    async def _call(
        self, clients: ProviderClients, method: str, url: str, token: str, **kwargs: Any
    ) -> httpx.Response:
        try:
            return await clients.http.request(
                method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not reach Compute Engine ({type(exc).__name__})", code="gcp_unreachable"
            ) from None

    async def purchase(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult:
        """Insert the commitment under the key's requestId and follow its operation."""
        if request.service != "compute":
            raise PurchaseRejected(
                f"buying {request.service} is not supported yet", code="unsupported_service"
            )
        token, _ = await access_token(auth, settings)
        base = self._base(auth, request, settings)
        body = {
            "name": commitment_name(request),
            "plan": PLANS.get(request.term, "TWELVE_MONTH"),
            "type": str(request.details.get("type") or "GENERAL_PURPOSE"),
            "category": "MACHINE",
            "resources": list(request.details.get("resources") or []),
            "autoRenew": False,
        }
        response = await self._call(
            clients,
            "POST",
            f"{base}/commitments",
            token,
            params={"requestId": request.idempotency_key},
            json=body,
        )
        if response.status_code == 409:
            found = await self.reconcile(auth, request, settings, clients)
            if found is not None:
                return found
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise PurchaseRejected(
                f"Compute Engine refused the commitment ({_message(response)})",
                code="gcp_purchase_refused",
            )
        if response.status_code != 200:
            raise ProviderError(
                f"Compute Engine answered {response.status_code}", code="gcp_purchase_unknown"
            )
        operation = response.json()
        for attempt in range(POLL_ATTEMPTS):
            if operation.get("status") == "DONE":
                break
            await asyncio.sleep(min(0.2 * (attempt + 1), 5.0))
            polled = await self._call(
                clients, "GET", f"{base}/operations/{operation['name']}", token
            )
            if polled.status_code != 200:
                raise ProviderError(
                    f"polling the commitment's operation failed ({_message(polled)})",
                    code="gcp_purchase_unknown",
                )
            operation = polled.json()
        else:
            raise ProviderError("the commitment's operation did not finish", code="gcp_pending")
        if operation.get("error"):
            errors = operation["error"].get("errors") or [{}]
            raise PurchaseRejected(
                f"Compute Engine refused the commitment ({errors[0].get('code', 'ERROR')}: "
                f"{str(errors[0].get('message', ''))[:300]})",
                code="gcp_purchase_refused",
            )
        return PurchaseResult(provider_commitment_id=commitment_name(request))

    async def reconcile(
        self,
        auth: AccountAuth,
        request: PurchaseRequest,
        settings: Settings,
        clients: ProviderClients,
    ) -> PurchaseResult | None:
        """The commitment named after the key, if it exists."""
        token, _ = await access_token(auth, settings)
        response = await self._call(
            clients,
            "GET",
            f"{self._base(auth, request, settings)}/commitments/{commitment_name(request)}",
            token,
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ProviderError(
                f"reading the commitment failed ({_message(response)})", code="gcp_reconcile"
            )
        return PurchaseResult(provider_commitment_id=commitment_name(request))
