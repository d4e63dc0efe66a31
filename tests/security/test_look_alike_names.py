"""Names refuse control and invisible format characters (item 10)."""

from __future__ import annotations

import httpx
import pytest

INVISIBLE = ["acct\u200b-A", "\u202eevil", "tab\there", "zw\ufeffnbsp", "line\u2028sep"]


@pytest.mark.parametrize("name", INVISIBLE)
async def test_account_names(admin_client: httpx.AsyncClient, name: str) -> None:
    response = await admin_client.post(
        "/api/accounts", json={"name": name, "provider": "aws", "external_id": "123456789012"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "name"


@pytest.mark.parametrize("name", INVISIBLE)
async def test_group_names(admin_client: httpx.AsyncClient, name: str) -> None:
    response = await admin_client.post("/api/groups", json={"name": name, "permissions": []})
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "name"


@pytest.mark.parametrize("name", INVISIBLE)
async def test_api_key_names(admin_client: httpx.AsyncClient, name: str) -> None:
    response = await admin_client.post("/api/api-keys", json={"name": name})
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "name"


async def test_user_emails(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/api/users",
        json={"email": "ad\u200bmin@example.com", "password": "correct horse battery"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "email"


async def test_ordinary_unicode_names_are_fine(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/api/accounts",
        json={"name": "Zürich – prod 東京", "provider": "aws", "external_id": "123456789012"},
    )
    assert response.status_code == 201, response.text
