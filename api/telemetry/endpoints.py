"""Metrics, tracing and log context (the only place that names a metric). — HTTP endpoints (thin: parse, authorise, call the service, shape the response)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["telemetry"])
