"""HTTP endpoints for credentials."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["credentials"])
