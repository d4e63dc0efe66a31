"""Opaque keyset cursors: ``(sort value, id)`` encoded so clients cannot depend on the format."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from api.errors import ValidationFailed
from api.kit.types import as_utc

MAX_LIMIT = 500


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.for_field(
            "cursor", "invalid cursor: use next_cursor from a previous page"
        ) from exc
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(isinstance(v, str) for v in values)
    ):
        raise ValidationFailed.for_field(
            "cursor", "invalid cursor: use next_cursor from a previous page"
        )
    return values


def decode_time_id_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    when, ident = decode_cursor(cursor, 2)
    try:
        return as_utc(datetime.fromisoformat(when)), uuid.UUID(ident)
    except ValueError as exc:
        raise ValidationFailed.for_field(
            "cursor", "invalid cursor: use next_cursor from a previous page"
        ) from exc
