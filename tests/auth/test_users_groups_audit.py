"""Users and groups CRUD, permission validation, account scoping rules, the audit endpoint."""

from __future__ import annotations

import uuid

import httpx
import pytest

from api.auth.permissions import AccountScope, Permission, Principal
from api.enums import Action, Resource, Role
from tests.fixtures.auth import MakeClient

PASSWORD = "correct horse battery staple"


async def test_user_crud(admin_client: httpx.AsyncClient) -> None:
    group = (await admin_client.post("/api/groups", json={"name": "viewers"})).json()
    created = await admin_client.post(
        "/api/users",
        json={
            "email": "v@example.com",
            "password": PASSWORD,
            "role": "user",
            "group_ids": [group["id"]],
        },
    )
    assert created.status_code == 201
    user = created.json()
    assert user["group_ids"] == [group["id"]]
    assert "password" not in created.text

    duplicate = await admin_client.post(
        "/api/users", json={"email": "V@example.com", "password": PASSWORD}
    )
    assert duplicate.status_code == 409

    listed = (await admin_client.get("/api/users")).json()["users"]
    assert "v@example.com" in [u["email"] for u in listed]

    updated = await admin_client.put(f"/api/users/{user['id']}", json={"role": "admin"})
    assert updated.json()["role"] == "admin"
    assert (await admin_client.delete(f"/api/users/{user['id']}")).status_code == 204
    assert (await admin_client.get(f"/api/users/{user['id']}")).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@example.com", "password": "short"},
        {"email": "a@example.com", "password": PASSWORD, "role": "superuser"},
        {"email": "a@example.com", "password": PASSWORD, "group_ids": ["not-a-uuid"]},
        {"email": "a@example.com", "password": PASSWORD, "group_ids": [str(uuid.uuid4())]},
        {"email": "a@example.com", "password": PASSWORD, "is_admin": True},
    ],
)
async def test_invalid_users_are_400_and_not_created(
    admin_client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    before = len((await admin_client.get("/api/users")).json()["users"])
    response = await admin_client.post("/api/users", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["fields"]
    assert len((await admin_client.get("/api/users")).json()["users"]) == before


async def test_last_admin_cannot_be_demoted(admin_client: httpx.AsyncClient) -> None:
    me = (await admin_client.get("/api/auth/me")).json()
    response = await admin_client.put(f"/api/users/{me['id']}", json={"role": "user"})
    assert response.status_code == 409
    assert response.json()["code"] == "last_admin"
    assert (await admin_client.delete(f"/api/users/{me['id']}")).status_code == 409


@pytest.mark.parametrize(
    "permission",
    [
        {"action": "execute", "resource": "accounts"},  # not an action on accounts
        {"action": "view", "resource": "users"},  # admin-only resource
        {"action": "fly", "resource": "plans"},
        {
            "action": "view",
            "resource": "accounts",
            "constraints": {"accounts": ["acct-name"]},
        },  # UUIDs only
        {"action": "view", "resource": "accounts", "constraints": {"tags": ["x"]}},
    ],
)
async def test_invalid_permissions_are_400(
    admin_client: httpx.AsyncClient, permission: dict[str, object]
) -> None:
    response = await admin_client.post(
        "/api/groups", json={"name": "g", "permissions": [permission]}
    )
    assert response.status_code == 400, response.text


async def test_group_crud_and_duplicate_name(admin_client: httpx.AsyncClient) -> None:
    account = str(uuid.uuid4())
    body = {
        "name": "ops",
        "permissions": [
            {"action": "view", "resource": "accounts", "constraints": {"accounts": [account]}}
        ],
    }
    created = await admin_client.post("/api/groups", json=body)
    assert created.status_code == 201
    assert created.json()["permissions"][0]["constraints"] == {"accounts": [account]}
    assert (await admin_client.post("/api/groups", json=body)).status_code == 409
    group_id = created.json()["id"]
    renamed = await admin_client.put(
        f"/api/groups/{group_id}", json={"name": "ops2", "permissions": []}
    )
    assert renamed.json()["name"] == "ops2"
    assert (await admin_client.get("/api/groups")).json()["groups"][0]["name"] == "ops2"
    assert (await admin_client.delete(f"/api/groups/{group_id}")).status_code == 204
    assert (await admin_client.get(f"/api/groups/{group_id}")).status_code == 404


async def test_permissions_from_groups_reach_the_user(
    admin_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    group = (
        await admin_client.post(
            "/api/groups",
            json={"name": "cfg", "permissions": [{"action": "view", "resource": "config"}]},
        )
    ).json()
    await admin_client.post(
        "/api/users",
        json={"email": "c@example.com", "password": PASSWORD, "group_ids": [group["id"]]},
    )
    token = (
        await client.post("/api/auth/login", json={"email": "c@example.com", "password": PASSWORD})
    ).json()["token"]
    me = (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["permissions"] == [{"action": "view", "resource": "config", "constraints": None}]


# --- scoping fails closed ----------------------------------------------------------------


def principal(*permissions: Permission, role: Role = Role.user) -> Principal:
    return Principal(
        user_id=uuid.uuid4(), email="p@example.com", role=role, permissions=permissions
    )


def test_empty_constraint_grants_no_account() -> None:
    scope = principal(
        Permission(action=Action.view, resource=Resource.accounts, constraints={"accounts": []})
    ).scope(Action.view, Resource.accounts)
    assert scope == AccountScope(unrestricted=False, account_ids=frozenset())
    assert not scope.allows(uuid.uuid4())


def test_constraints_union_and_unconstrained_wins() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    limited = principal(
        Permission(action=Action.view, resource=Resource.accounts, constraints={"accounts": [a]}),
        Permission(action=Action.view, resource=Resource.accounts, constraints={"accounts": [b]}),
    )
    assert limited.scope(Action.view, Resource.accounts).account_ids == {a, b}
    assert not limited.scope(Action.update, Resource.accounts).allows(a)  # other actions: nothing
    wide = principal(
        Permission(action=Action.view, resource=Resource.accounts, constraints={"accounts": [a]}),
        Permission(action=Action.view, resource=Resource.accounts),
    )
    assert wide.scope(Action.view, Resource.accounts).unrestricted
    assert principal(role=Role.admin).scope(Action.delete, Resource.accounts).unrestricted


def test_scope_require_raises_403_for_any_outside_account() -> None:
    a = uuid.uuid4()
    scope = AccountScope(unrestricted=False, account_ids=frozenset({a}))
    scope.require([a])
    with pytest.raises(Exception, match="do not cover") as info:
        scope.require([a, uuid.uuid4()])
    assert getattr(info.value, "status_code", None) == 403


# --- the audit endpoint ----------------------------------------------------------------


async def test_audit_filters_and_pagination(
    admin_client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    ids = []
    for i in range(5):
        ids.append((await admin_client.post("/api/groups", json={"name": f"g{i}"})).json()["id"])
    everything = (await admin_client.get("/api/audit")).json()["events"]
    assert len(everything) == 5
    assert all(e["action"] == "group.create" for e in everything)

    target = (await admin_client.get("/api/audit", params={"target_id": ids[2]})).json()["events"]
    assert [e["target_id"] for e in target] == [ids[2]]

    me = (await admin_client.get("/api/auth/me")).json()
    by_actor = (await admin_client.get("/api/audit", params={"actor": me["email"]})).json()[
        "events"
    ]
    assert len(by_actor) == 5
    assert (await admin_client.get("/api/audit", params={"actor": str(uuid.uuid4())})).json()[
        "events"
    ] == []
    assert (await admin_client.get("/api/audit", params={"since": "2999-01-01T00:00:00Z"})).json()[
        "events"
    ] == []

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await admin_client.get("/api/audit", params=params)).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(e["id"] for e in everything)
    assert (await admin_client.get("/api/audit", params={"cursor": "garbage!"})).status_code == 400
    user = await make_client(permissions=[{"action": "view", "resource": "history"}])
    assert (await user.get("/api/audit")).status_code == 403


@pytest.mark.parametrize("since", ["0", "1700000000", "yesterday", "2026-13-01"])
async def test_audit_since_must_be_an_iso_date_time(
    admin_client: httpx.AsyncClient, since: str
) -> None:
    response = await admin_client.get("/api/audit", params={"since": since})
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "since"
