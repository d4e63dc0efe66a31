"""CSV export of the commitments inventory and recommendations (api/kit/csv.py Listing)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.history import factories as f


def _parse(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


@pytest.mark.parametrize(
    ("path", "key"),
    [("/api/commitments", "commitments"), ("/api/recommendations", "recommendations")],
)
async def test_csv_parses_and_matches_the_json_rows(
    session: AsyncSession, admin_client: httpx.AsyncClient, path: str, key: str
) -> None:
    a = await f.account(session, "csv account")
    for n in range(3):
        await f.commitment(session, a, ends_in_days=30 + n)
        await f.recommendation(session, a, savings=str(10 + n), details={"offering": f"o-{n}"})
    await session.commit()

    as_json = (await admin_client.get(path)).json()[key]
    assert len(as_json) == 3
    for response in (
        await admin_client.get(path, params={"format": "csv"}),
        await admin_client.get(path, headers={"Accept": "text/csv"}),
    ):
        rows = _parse(response)
        assert len(rows) == 3
        for csv_row, json_row in zip(rows, as_json, strict=True):
            assert list(csv_row) == list(json_row)
            assert csv_row == {field: _cell(value) for field, value in json_row.items()}

    page = await admin_client.get(path, params={"format": "csv", "limit": 2})
    assert len(_parse(page)) == 2
    rest = await admin_client.get(path, params={"cursor": page.headers["x-next-cursor"]})
    assert len(rest.json()[key]) == 1
