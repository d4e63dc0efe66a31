"""Every route is in the permission matrix, and each one enforces what the matrix says."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.enums import RESOURCE_ACTIONS
from api.errors import ErrorBody
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


# With made-up ids and an empty body an allowed caller gets an answer, not a crash: success,
# or the error the fixture ids and body call for (400 invalid, 404 unknown id, 409 conflict).
ALLOWED_ERRORS = {400, 404, 409}
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


_DOCUMENTS: dict[str, dict[str, Any]] = {}


def _document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document. Building it costs about a second of CPU and every app of
    this module is made by ``create_app`` with the same settings (bar the database), so the
    first one's document stands for all; a second set of settings would get its own."""
    key = app.state.settings.model_dump_json(exclude={"db": {"url"}})
    if key not in _DOCUMENTS:
        _DOCUMENTS[key] = app.openapi()
    return _DOCUMENTS[key]


def assert_allowed(app: FastAPI, row: Row, response: httpx.Response) -> None:
    """The allowed caller's actual answer: a status the OpenAPI document declares for the
    route, and a SPEC §2 error body (``error``, ``code``, optional ``fields``) for an error."""
    method, template, _ = row
    declared = _document(app)["paths"][template][method.lower()]["responses"]
    status = response.status_code
    assert str(status) in declared, f"{status} is not documented: {response.text}"
    if 200 <= status < 300:
        if response.headers.get("content-type", "").startswith("application/json"):
            # SPEC §2: lists are objects keyed by the resource name, never bare arrays.
            assert isinstance(response.json(), dict), response.text
        return
    assert status in ALLOWED_ERRORS, response.text
    body = ErrorBody.model_validate(response.json())
    assert body.error.strip(), response.text
    assert _CODE.fullmatch(body.code), response.text


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
async def test_with_the_permission_is_allowed(
    app: FastAPI, make_client: MakeClient, row: Row
) -> None:
    rule = row[2]
    assert isinstance(rule, Perm)
    client = await make_client(
        role="admin" if rule.admin_only else "user",
        permissions=[{"action": rule.action, "resource": rule.resource}],
    )
    response = await _call(client, row[0], row[1])
    assert_allowed(app, row, response)


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
async def test_allowed_callers_are_allowed(app: FastAPI, make_client: MakeClient, row: Row) -> None:
    client = await make_client(role="admin" if row[2] == ADMIN else "user")
    response = await _call(client, row[0], row[1])
    assert_allowed(app, row, response)


@pytest.mark.parametrize("row", [r for r in ROWS if isinstance(r[2], Perm)], ids=_ids)
async def test_admin_bypasses_every_permission(
    app: FastAPI, admin_client: httpx.AsyncClient, row: Row
) -> None:
    response = await _call(admin_client, row[0], row[1])
    assert_allowed(app, row, response)
