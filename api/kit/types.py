"""Shared Pydantic field types."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
OUT_OF_RANGE = "is out of range: use a date-time between 0001-01-02 and 9999-12-30 (UTC)"


def _iso_only(value: Any) -> Any:
    """Only ISO 8601 / RFC 3339 text: ``0`` or ``1700000000`` is not silently a date."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO.match(value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z")
    return value


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC (naive means UTC); ValueError when UTC cannot represent it.

    ``9999-12-31T23:59:59-14:00`` parses, but is year 10000 in UTC, where the database
    driver (and Python) would fail: such a value is the client's 400, never a 500.
    """
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(OUT_OF_RANGE) from None


def _in_utc_range(value: datetime) -> datetime:
    as_utc(value)  # refuse what UTC cannot hold; keep the client's offset otherwise
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_in_utc_range)]
"""The one type for date-time inputs (bodies, query parameters): ISO 8601, UTC-representable."""


# Control (Cc) and format (Cf: zero-width, bidi overrides) characters, and line/paragraph
# separators: invisible or reordering, they make look-alike names ("acct\u200b-A").
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def check_name(value: str, field: str) -> str:
    """Refuse control and format characters in a name; ValueError naming ``field``."""
    if any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value):
        raise ValueError(
            f"{field} must not contain control or invisible formatting characters "
            "(zero-width, bidi overrides)"
        )
    return value
