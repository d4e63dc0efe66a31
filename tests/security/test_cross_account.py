"""A scoped user cannot point an account at another AWS account's role, and credentials of
the wrong account never pass the connectivity test (issue 19 item 6)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.credentials.fixtures import AwsEnv, add_account, aws, sts_proxy
from tests.fixtures.auth import MakeClient

__all__ = ["aws", "sts_proxy"]

OWN = "111122223333"
FOREIGN_ROLE = "arn:aws:iam::999999999999:role/Admin"


@pytest.mark.parametrize("mode", ["role_arn", "workload_identity_federation"])
async def test_create_refuses_a_role_of_another_account(
    admin_client: httpx.AsyncClient, mode: str
) -> None:
    response = await admin_client.post(
        "/api/accounts",
        json={
            "name": "victim",
            "provider": "aws",
            "external_id": OWN,
            "aws_auth_mode": mode,
            "aws_role_arn": FOREIGN_ROLE,
        },
    )
    assert response.status_code == 400, response.text
    (field,) = response.json()["fields"]
    assert field["field"] == "aws_role_arn"
    assert "999999999999" in field["message"] and OWN in field["message"]


async def test_a_scoped_user_cannot_retarget_their_account(
    admin_client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    created = await admin_client.post(
        "/api/accounts",
        json={
            "name": "mine",
            "provider": "aws",
            "external_id": OWN,
            "aws_auth_mode": "role_arn",
            "aws_role_arn": f"arn:aws:iam::{OWN}:role/CUDly",
        },
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    scoped = await make_client(
        permissions=[
            {"action": action, "resource": "accounts", "constraints": {"accounts": [account_id]}}
            for action in ("view", "update", "manage_credentials")
        ]
    )
    response = await scoped.put(f"/api/accounts/{account_id}", json={"aws_role_arn": FOREIGN_ROLE})
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "aws_role_arn"
    bastion = await admin_client.post(
        "/api/accounts",
        json={"name": "hub", "provider": "aws", "external_id": "444455556666"},
    )
    assert bastion.status_code == 201, bastion.text
    response = await scoped.put(
        f"/api/accounts/{account_id}",
        json={
            "aws_auth_mode": "bastion",
            "aws_bastion_id": bastion.json()["id"],
            "aws_role_arn": "arn:aws:iam::444455556666:role/Hub",
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["fields"][0]["field"] == "aws_role_arn"


async def test_keys_of_another_account_fail_the_connectivity_test(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key_id, secret = aws.iam_user()  # moto's IAM users live in 123456789012
    account = await add_account(session, external_id=OWN)
    stored = await admin_client.post(
        f"/api/accounts/{account.id}/credentials",
        json={"type": "aws_access_keys", "access_key_id": key_id, "secret_access_key": secret},
    )
    assert stored.status_code == 204, stored.text
    body = (await admin_client.post(f"/api/accounts/{account.id}/test")).json()
    assert body["ok"] is False
    assert "123456789012" in body["error"] and OWN in body["error"]
