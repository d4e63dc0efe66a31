"""Every route is in the permission matrix, and each one enforces what the matrix says."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.enums import RESOURCE_ACTIONS
from tests.fixtures.auth import MakeClient
from tests.permission_matrix import ADMIN, AUTHENTICATED, PUBLIC, Perm, Row, all_rows

ROWS = all_rows()
ALL_PERMISSIONS = [
    {"action": action.value, "resource": resource.value}
    for resource, actions in RESOURCE_ACTIONS.items()
    for action in actions
]


def _url(template: str) -> str:
    return re.sub(
        r"\{[^}]+\}",
        lambda m: (
            "aws"
            if m.group(0) == "{provider}"
            else ("ec2" if m.group(0) == "{service}" else str(uuid.uuid4()))
        ),
        template,
    )


def _ids(row: Row) -> str:
    return f"{row[0]} {row[1]}"


def test_every_api_route_is_in_the_matrix(app: FastAPI) -> None:
    # The OpenAPI document lists every API route (none is hidden from it).
    declared = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    in_matrix = {(method, path) for method, path, _ in ROWS}
    assert declared - in_matrix == set(), "add these routes to a tests/<domain>/matrix.py"
    assert in_matrix - declared == set(), "these matrix rows name no route"


async def _call(client: httpx.AsyncClient, method: str, template: str) -> httpx.Response:
    body: Any = {} if method in {"POST", "PUT", "PATCH"} else None
    return await client.request(method, _url(template), json=body)


@pytest.mark.parametrize("row", [r for r in ROWS if r[2] != PUBLIC], ids=_ids)
async def test_no_credentials_is_401(client: httpx.AsyncClient, row: Row) -> None:
    response = await _call(client, row[0], row[1])
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("row", [r for r in ROWS if isinstance(r[2], Perm)], ids=_ids)
async def test_without_the_permission_is_403(make_client: MakeClient, row: Row) -> None:
    rule = row[2]
    assert isinstance(rule, Perm)
    others = [
        p for p in ALL_PERMISSIONS if (p["action"], p["resource"]) != (rule.action, rule.resource)
    ]
    client = await make_client(permissions=others)
    response = await _call(client, row[0], row[1])
    assert response.status_code == 403, response.text
    assert response.json()["code"] in {"permission_denied", "admin_required"}


@pytest.mark.parametrize("row", [r for r in ROWS if isinstance(r[2], Perm)], ids=_ids)
async def test_with_the_permission_is_not_denied(make_client: MakeClient, row: Row) -> None:
    rule = row[2]
    assert isinstance(rule, Perm)
    client = await make_client(
        role="admin" if rule.admin_only else "user",
        permissions=[{"action": rule.action, "resource": rule.resource}],
    )
    response = await _call(client, row[0], row[1])
    assert response.status_code not in {401, 403}, response.text


@pytest.mark.parametrize(
    "row",
    [r for r in ROWS if r[2] == ADMIN or (isinstance(r[2], Perm) and r[2].admin_only)],
    ids=_ids,
)
async def test_admin_only_routes_refuse_a_user_with_every_permission(
    make_client: MakeClient, row: Row
) -> None:
    client = await make_client(permissions=ALL_PERMISSIONS)
    response = await _call(client, row[0], row[1])
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("row", [r for r in ROWS if r[2] in (ADMIN, AUTHENTICATED)], ids=_ids)
async def test_allowed_callers_are_not_denied(make_client: MakeClient, row: Row) -> None:
    client = await make_client(role="admin" if row[2] == ADMIN else "user")
    response = await _call(client, row[0], row[1])
    assert response.status_code not in {401, 403}, response.text


@pytest.mark.parametrize("row", [r for r in ROWS if isinstance(r[2], Perm)], ids=_ids)
async def test_admin_bypasses_every_permission(admin_client: httpx.AsyncClient, row: Row) -> None:
    response = await _call(admin_client, row[0], row[1])
    assert response.status_code not in {401, 403}, response.text
