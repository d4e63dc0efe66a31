"""Azure reservation purchases for the simulator (``shared/CLOUD_APIS.md`` *Purchases*, Azure).

``POST /providers/Microsoft.Capacity/calculatePrice`` quotes and mints a reservation order id;
``PUT /providers/Microsoft.Capacity/reservationOrders/{id}`` creates that order (a repeat hits
the same order and buys nothing more; an id never quoted is 404), answering 202 and
``provisioningState`` ``Creating`` for ``creating_polls`` reads, then ``Succeeded``;
``GET …/reservationOrders/{id}`` reads it. Callers need an ARM token of a client granted on
the billing subscription. State: ``azure_purchases(sim.state)``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from .app import SimState


@dataclass
class AzureOrder:
    order_id: str
    subscription: str
    principal: str
    body: dict[str, Any]
    reads: int = 0


class AzurePurchaseSim:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.quotes: dict[str, dict[str, Any]] = {}
            self.orders: dict[str, AzureOrder] = {}
            self.failing: dict[str, tuple[int, str]] = {}
            self.creating_polls = 1

    def fail(self, subscription: str, status: int = 400, message: str = "quota") -> None:
        with self._lock:
            self.failing[subscription] = (status, message)

    def orders_of(self, subscription: str | None = None) -> list[AzureOrder]:
        with self._lock:
            return [
                o
                for o in self.orders.values()
                if subscription is None or o.subscription == subscription
            ]


def azure_purchases(state: SimState) -> AzurePurchaseSim:
    found: AzurePurchaseSim | None = getattr(state, "azure_purchases", None)
    if found is None:
        found = AzurePurchaseSim()
        state.azure_purchases = found  # type: ignore[attr-defined]
    return found


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _subscription(body: dict[str, Any]) -> str:
    scope = str((body.get("properties") or {}).get("billingScopeId", ""))
    return scope.rsplit("/", 1)[-1].lower()


def _caller(request: Request, subscription: str) -> str | Response:
    from .app import _arm_auth

    state: SimState = request.app.state.sim
    token = _arm_auth(request, state)
    if isinstance(token, Response):
        return token
    with state._lock:
        known = state.subscriptions.get(subscription)
        granted = known is not None and token.principal in known.granted
    if not granted:
        return _error(
            403,
            "AuthorizationFailed",
            f"The client '{token.principal}' does not have authorization over '{subscription}'",
        )
    return token.principal


def _order_json(order: AzureOrder, state: str) -> dict[str, Any]:
    return {
        "id": f"/providers/microsoft.capacity/reservationOrders/{order.order_id}",
        "name": order.order_id,
        "properties": {
            "displayName": order.body.get("properties", {}).get("displayName"),
            "provisioningState": state,
            "reservations": [
                {
                    "id": f"/providers/microsoft.capacity/reservationOrders/{order.order_id}/reservations/{uuid.uuid5(uuid.NAMESPACE_URL, order.order_id)}"
                }
            ],
        },
    }


async def calculate_price(request: Request) -> Response:
    body = await request.json()
    subscription = _subscription(body)
    principal = _caller(request, subscription)
    if isinstance(principal, Response):
        return principal
    sim = azure_purchases(request.app.state.sim)
    order_id = str(uuid.uuid4())
    with sim._lock:
        sim.quotes[order_id] = body
    return JSONResponse(
        {
            "properties": {
                "reservationOrderId": order_id,
                "billingCurrencyTotal": {"currencyCode": "USD", "amount": 100},
            }
        }
    )


async def put_order(request: Request) -> Response:
    body = await request.json()
    subscription = _subscription(body)
    principal = _caller(request, subscription)
    if isinstance(principal, Response):
        return principal
    sim = azure_purchases(request.app.state.sim)
    order_id = request.path_params["order_id"]
    with sim._lock:
        existing = sim.orders.get(order_id)
        if existing is not None:
            return JSONResponse(_order_json(existing, "Succeeded"))
        if order_id not in sim.quotes:
            return _error(404, "ReservationOrderNotFound", f"{order_id} was not quoted")
        failure = sim.failing.get(subscription)
        if failure is not None:
            return _error(failure[0], "BadRequest", failure[1])
        order = AzureOrder(order_id, subscription, principal, body)
        sim.orders[order_id] = order
    return JSONResponse(_order_json(order, "Creating"), status_code=202)


async def get_order(request: Request) -> Response:
    from .app import _arm_auth

    state: SimState = request.app.state.sim
    token = _arm_auth(request, state)
    if isinstance(token, Response):
        return token
    sim = azure_purchases(state)
    with sim._lock:
        order = sim.orders.get(request.path_params["order_id"])
        if order is None:
            return _error(404, "ReservationOrderNotFound", "not found")
        order.reads += 1
        done = order.reads > sim.creating_polls
    return JSONResponse(_order_json(order, "Succeeded" if done else "Creating"))


def routes() -> list[Route]:
    return [
        Route("/providers/Microsoft.Capacity/calculatePrice", calculate_price, methods=["POST"]),
        Route(
            "/providers/Microsoft.Capacity/reservationOrders/{order_id}", put_order, methods=["PUT"]
        ),
        Route(
            "/providers/Microsoft.Capacity/reservationOrders/{order_id}", get_order, methods=["GET"]
        ),
    ]
