"""HTTP endpoints for service_config."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["config"])
