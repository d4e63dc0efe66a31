"""GCP commitment purchases for the simulator (``shared/CLOUD_APIS.md`` *Purchases*, GCP).

``POST /compute/v1/projects/{p}/regions/{r}/commitments?requestId=<uuid>`` answers an
Operation (``RUNNING`` for ``running_polls`` polls of ``…/operations/{name}``, then ``DONE``);
the same ``requestId`` answers the same operation and buys nothing more, a reused commitment
name is ``409 ALREADY_EXISTS``; ``GET …/commitments/{name}`` reads one. Callers need a token
the simulator issued to a principal granted on the project (``SimState.add_project``).

State (``gcp_purchases(sim.state)``, thread-safe): ``commitments`` (each with its
``request_id`` and the principal that bought it), ``fail(project, status, message)``.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from .app import SimState

BASE = "/compute/v1/projects/{project}/regions/{region}"


@dataclass
class GcpCommitment:
    project: str
    region: str
    name: str
    request_id: str
    principal: str
    body: dict[str, Any]
    id: str = field(default_factory=lambda: str(secrets.randbits(60)))
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class GcpOperation:
    name: str
    project: str
    region: str
    target: str
    polls: int = 0


class GcpPurchaseSim:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.commitments: list[GcpCommitment] = []
            self.operations: dict[str, GcpOperation] = {}
            self.by_request: dict[tuple[str, str], str] = {}  # (project, requestId) -> operation
            self.failing: dict[str, tuple[int, str]] = {}
            self.running_polls = 1

    def fail(self, project: str, status: int = 400, message: str = "quota exceeded") -> None:
        with self._lock:
            self.failing[project] = (status, message)

    def commitments_of(self, project: str | None = None) -> list[GcpCommitment]:
        with self._lock:
            return [c for c in self.commitments if project is None or c.project == project]


def gcp_purchases(state: SimState) -> GcpPurchaseSim:
    """The purchase state attached to a simulator (created on first use)."""
    found: GcpPurchaseSim | None = getattr(state, "gcp_purchases", None)
    if found is None:
        found = GcpPurchaseSim()
        state.gcp_purchases = found  # type: ignore[attr-defined]
    return found


def _error(status: int, message: str, reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": reason}}, status_code=status
    )


def _operation_json(op: GcpOperation, done: bool) -> dict[str, Any]:
    return {
        "kind": "compute#operation",
        "id": str(abs(hash(op.name)) % 10**18),
        "name": op.name,
        "operationType": "insert",
        "targetLink": op.target,
        "status": "DONE" if done else "RUNNING",
        "progress": 100 if done else 50,
        "region": op.region,
    }


def _caller(request: Request, project: str) -> str | Response:
    from .app import _gcp_auth

    state: SimState = request.app.state.sim
    token = _gcp_auth(request, state)
    if isinstance(token, Response):
        return token
    with state._lock:
        known = state.projects.get(project)
        granted = known is not None and token.principal in known.granted
    if not granted:
        return _error(
            403,
            f"Required 'compute.commitments.create' permission for '{project}'",
            "PERMISSION_DENIED",
        )
    return token.principal


async def insert_commitment(request: Request) -> Response:
    project = request.path_params["project"]
    region = request.path_params["region"]
    principal = _caller(request, project)
    if isinstance(principal, Response):
        return principal
    sim = gcp_purchases(request.app.state.sim)
    body = await request.json()
    request_id = request.query_params.get("requestId", "")
    name = str(body.get("name", ""))
    with sim._lock:
        known = sim.by_request.get((project, request_id)) if request_id else None
        if known is not None:
            return JSONResponse(_operation_json(sim.operations[known], done=False))
        failure = sim.failing.get(project)
        if failure is not None:
            return _error(failure[0], failure[1], "INVALID_ARGUMENT")
        if any(
            c.project == project and c.region == region and c.name == name for c in sim.commitments
        ):
            return _error(
                409,
                f"The resource 'projects/{project}/regions/{region}/commitments/{name}' already exists",
                "ALREADY_EXISTS",
            )
        sim.commitments.append(GcpCommitment(project, region, name, request_id, principal, body))
        op = GcpOperation(
            name=f"operation-{secrets.token_hex(8)}",
            project=project,
            region=region,
            target=f"{request.url.scheme}://{request.url.netloc}{BASE.format(project=project, region=region)}/commitments/{name}",
        )
        sim.operations[op.name] = op
        if request_id:
            sim.by_request[(project, request_id)] = op.name
    return JSONResponse(_operation_json(op, done=False))


async def get_operation(request: Request) -> Response:
    project = request.path_params["project"]
    principal = _caller(request, project)
    if isinstance(principal, Response):
        return principal
    sim = gcp_purchases(request.app.state.sim)
    with sim._lock:
        op = sim.operations.get(request.path_params["operation"])
        if op is None or op.project != project:
            return _error(404, "operation not found", "NOT_FOUND")
        op.polls += 1
        done = op.polls > sim.running_polls
    return JSONResponse(_operation_json(op, done=done))


async def get_commitment(request: Request) -> Response:
    project = request.path_params["project"]
    region = request.path_params["region"]
    principal = _caller(request, project)
    if isinstance(principal, Response):
        return principal
    sim = gcp_purchases(request.app.state.sim)
    name = request.path_params["name"]
    for c in sim.commitments_of(project):
        if c.region == region and c.name == name:
            return JSONResponse(
                {
                    "kind": "compute#commitment",
                    "id": c.id,
                    "name": c.name,
                    "region": region,
                    "status": "ACTIVE",
                    "plan": c.body.get("plan"),
                    "type": c.body.get("type"),
                    "resources": c.body.get("resources", []),
                }
            )
    return _error(404, f"The resource 'commitments/{name}' was not found", "NOT_FOUND")


def routes() -> list[Route]:
    """The purchase routes, registered by ``app.create_app``."""
    return [
        Route(f"{BASE}/commitments", insert_commitment, methods=["POST"]),
        Route(f"{BASE}/commitments/{{name}}", get_commitment, methods=["GET"]),
        Route(f"{BASE}/operations/{{operation}}", get_operation, methods=["GET"]),
    ]
