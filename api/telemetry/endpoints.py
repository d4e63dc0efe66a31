"""``GET /api/ready`` (readiness, public) and ``GET /metrics`` (Prometheus, admins only).

``/metrics`` lives beside ``/api`` rather than under it, where scrapers look for it; a
scraper without credentials uses the separate listener ``CUDLY_METRICS_BIND`` instead.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api.auth.deps import AdminPrincipal
from api.telemetry import service

router = APIRouter(tags=["telemetry"])
metrics_router = APIRouter(tags=["telemetry"])


class Ready(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    migrations: Literal["ok"]
    key_ring: Literal["ok"]


class NotReady(BaseModel):
    error: str
    code: Literal["not_ready"]
    status: Literal["not_ready"]
    database: Literal["ok", "unreachable"]
    migrations: Literal["ok", "behind", "unknown"]
    key_ring: Literal["ok", "not_loaded"]


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": NotReady, "description": "Not ready to serve traffic"}},
)
async def ready(request: Request) -> Ready | JSONResponse:
    """200 when the database answers, its schema is at this build's head and the key ring
    is loaded; else 503 naming what is not ready. Load balancers and health checks use it."""
    state = await service.readiness(request.app.state)
    if state.ready:
        return Ready(status="ready", database="ok", migrations="ok", key_ring="ok")
    problems = [
        text
        for failed, text in (
            (state.database != "ok", "the database is unreachable"),
            (state.migrations != "ok", f"migrations are {state.migrations} (run `cudly migrate`)"),
            (state.key_ring != "ok", "the credential key ring is not loaded"),
        )
        if failed
    ]
    body = NotReady(
        error="not ready: " + "; ".join(problems),
        code="not_ready",
        status="not_ready",
        database=state.database,
        migrations=state.migrations,
        key_ring=state.key_ring,
    )
    return JSONResponse(body.model_dump(), status_code=503)


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition (OpenMetrics when the Accept header asks)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request, _: AdminPrincipal) -> Response:
    """Every series CUDly exports (docs/operations.md lists them); an admin's token or API key."""
    body, content_type = await service.scrape(request.app.state, request.headers.get("accept"))
    return Response(body, media_type=content_type)
