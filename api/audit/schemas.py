"""The audit log's read schema (``GET /api/audit``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    actor_id: uuid.UUID | None
    actor_email: str | None
    action: str
    target_type: str
    target_id: str | None
    changed_fields: list[str]
    request_id: str | None
    created_at: datetime


class AuditList(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None
