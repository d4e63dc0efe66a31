"""Liveness and database reachability (SPEC §1)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.db import ping

router = APIRouter(tags=["health"])

PING_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class HealthDown(BaseModel):
    error: str
    code: str
    status: Literal["error"]
    database: Literal["unreachable"]


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": HealthDown, "description": "The database is unreachable"}},
)
async def health(request: Request) -> Health | JSONResponse:
    """200 when the database answers within two seconds, else 503."""
    try:
        await asyncio.wait_for(ping(request.app.state.engine), PING_TIMEOUT_S)
    except Exception:
        return JSONResponse(
            {
                "error": "database unreachable: check DATABASE_URL or the embedded server",
                "code": "database_unavailable",
                "status": "error",
                "database": "unreachable",
            },
            status_code=503,
        )
    return Health(status="ok", database="ok")
