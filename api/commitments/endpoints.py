"""The inventory of active commitments (read side; written by collection). — HTTP endpoints (thin: parse, authorise, call the service, shape the response)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["commitments"])
