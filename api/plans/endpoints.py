"""Purchase plans and their target accounts. — HTTP endpoints (thin: parse, authorise, call the service, shape the response)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["plans"])
