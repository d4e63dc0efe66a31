"""CSV export of list endpoints (``Accept: text/csv`` or ``?format=csv``).

FinOps teams reconcile in spreadsheets, so every list that matters can answer as CSV: one
header row of the JSON field names (in schema order), then one row per item with the same
values the JSON shows (Decimal as its exact text, times as ISO 8601, null as an empty cell,
nested JSON as compact JSON). A text cell a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@``, tab, CR at the start) is prefixed with ``'`` (OWASP CSV injection advice).

A list endpoint adopts it by taking ``listing: ListingDep`` in place of its ``limit``
parameter (it owns ``limit`` and ``format``), passing ``limit=listing.limit`` on, and
answering ``listing.respond(page, page.things, ThingOut, "things.csv")``; ``responses=
CSV_RESPONSE`` on the route documents ``text/csv``. Without ``limit``, a CSV export holds up
to :data:`CSV_MAX_ROWS` rows (a spreadsheet wants the whole range), JSON one page of 50; the
next cursor of a CSV is in ``X-Next-Cursor``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel

from api.kit.pagination import MAX_LIMIT

CSV_MEDIA_TYPE = "text/csv"
# An export answers this many rows unless the caller gives a ``limit``.
CSV_MAX_ROWS = 10_000
DEFAULT_PAGE = 50
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CsvFormat = Annotated[
    Literal["json", "csv"] | None,
    Query(
        alias="format",
        description="`csv` answers text/csv (as does `Accept: text/csv`); default JSON",
    ),
]

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "JSON by default; CSV (header row of field names) with `Accept: text/csv` or `?format=csv`",
    }
}

PageT = TypeVar("PageT", bound=BaseModel)


def wants_csv(request: Request, output: str | None) -> bool:
    """``?format=`` decides when given; otherwise an ``Accept`` naming text/csv."""
    if output is not None:
        return output == "csv"
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == CSV_MEDIA_TYPE for part in accept.split(","))


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def cell(value: Any) -> str:
    """One CSV cell for a JSON-mode field value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str, sort_keys=True)
    text = str(value)
    if text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def render_csv(rows: Sequence[BaseModel], model: type[BaseModel]) -> str:
    """The CSV text of ``rows`` (instances of ``model``): a header, then one line per row."""
    columns = [field.alias or name for name, field in model.model_fields.items()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        dumped = row.model_dump(mode="json", by_alias=True)
        writer.writerow([cell(dumped.get(column)) for column in columns])
    return buffer.getvalue()


def csv_response(
    rows: Sequence[BaseModel],
    model: type[BaseModel],
    filename: str,
    *,
    next_cursor: str | None = None,
) -> Response:
    """A ``text/csv`` attachment; the next page's cursor, if any, in ``X-Next-Cursor``."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Response(
        content=render_csv(rows, model).encode("utf-8"),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers=headers,
    )


@dataclass(frozen=True)
class Listing:
    """How a list request wants its answer: CSV or JSON, and how many rows."""

    csv: bool
    limit: int

    def respond(
        self, page: PageT, rows: Sequence[BaseModel], model: type[BaseModel], filename: str
    ) -> PageT | Response:
        """``page`` as JSON, or ``rows`` (instances of ``model``) as a CSV attachment."""
        if not self.csv:
            return page
        return csv_response(rows, model, filename, next_cursor=getattr(page, "next_cursor", None))


async def _listing(
    request: Request,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_LIMIT,
            description=f"Page size: default {DEFAULT_PAGE} (JSON), {CSV_MAX_ROWS} (CSV)",
        ),
    ] = None,
    output: CsvFormat = None,
) -> Listing:
    as_csv = wants_csv(request, output)
    if limit is None:
        limit = CSV_MAX_ROWS if as_csv else DEFAULT_PAGE
    return Listing(csv=as_csv, limit=limit)


ListingDep = Annotated[Listing, Depends(_listing)]
