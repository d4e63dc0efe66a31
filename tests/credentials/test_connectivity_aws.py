"""``POST /api/accounts/{account_id}/test`` for every AWS auth mode, against moto.

moto sits behind a counting proxy (``AWS_ENDPOINT_URL_STS``), so each test asserts the exact
sequence of STS actions the product sent, their parameters and which key signed them.
moto accepts any access key unless its IAM authentication is switched on
(``/moto-api/reset-auth``); the bad-key tests switch it on.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CloudAccount
from tests.credentials.fixtures import AMBIENT_KEY_ID, AMBIENT_SECRET, AwsEnv, add_account

TARGET_ROLE = "arn:aws:iam::222233334444:role/CUDly"
BASTION_ROLE = "arn:aws:iam::111122223333:role/Hub"


async def store(client: httpx.AsyncClient, account: CloudAccount, body: dict[str, Any]) -> None:
    response = await client.post(f"/api/accounts/{account.id}/credentials", json=body)
    assert response.status_code == 204, response.text


async def run_test(client: httpx.AsyncClient, account: CloudAccount) -> dict[str, Any]:
    response = await client.post(f"/api/accounts/{account.id}/test")
    assert response.status_code == 200, response.text
    return dict(response.json())


def keys_body(key_id: str, secret: str) -> dict[str, Any]:
    return {"type": "aws_access_keys", "access_key_id": key_id, "secret_access_key": secret}


def session_name(account: CloudAccount) -> str:
    return f"cudly-{account.id.hex[:12]}"


async def test_access_keys_ok(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    arn, key_id, secret = aws.iam_user()
    account = await add_account(session)
    await store(admin_client, account, keys_body(key_id, secret))
    assert await run_test(admin_client, account) == {"ok": True, "caller_identity": arn}
    assert [(c.action, c.access_key_id) for c in aws.proxy.calls] == [("GetCallerIdentity", key_id)]


async def test_access_keys_rejected(
    aws: AwsEnv,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    log_capture: pytest.LogCaptureFixture,
) -> None:
    _, key_id, secret = aws.iam_user()
    unknown = await add_account(session)
    await store(admin_client, unknown, keys_body("AKIAUNKNOWNKEY000001", secret))
    wrong_secret = await add_account(session)
    bad_secret = "wrong-secret-wrong-secret-wrong-secret-00"
    await store(admin_client, wrong_secret, keys_body(key_id, bad_secret))
    aws.enable_iam_auth()  # moto now checks keys and signatures like AWS does
    body = await run_test(admin_client, unknown)
    assert body["ok"] is False
    assert "caller_identity" not in body
    assert "AWS rejected the access key (InvalidClientTokenId)" in body["error"]
    assert "check the access key id and secret" in body["error"]
    body = await run_test(admin_client, wrong_secret)
    assert body["ok"] is False
    assert "SignatureDoesNotMatch" in body["error"]
    for text in (str(body), log_capture.text):
        assert secret not in text and bad_secret not in text


async def test_no_credentials(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await add_account(session)
    assert await run_test(admin_client, account) == {
        "ok": False,
        "error": "no credentials configured",
    }
    assert aws.proxy.calls == []


async def test_unknown_account_is_404(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(f"/api/accounts/{uuid.uuid4()}/test")
    assert response.status_code == 404


async def test_role_arn_uses_the_server_identity_and_caches_the_session(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await add_account(
        session, aws_auth_mode="role_arn", aws_role_arn=TARGET_ROLE, aws_external_id="ext-123"
    )
    body = await run_test(admin_client, account)
    assert body == {
        "ok": True,
        "caller_identity": f"arn:aws:sts::222233334444:assumed-role/CUDly/{session_name(account)}",
    }
    assume, identity = aws.proxy.calls
    assert assume.action == "AssumeRole"
    assert assume.params == {
        "RoleArn": TARGET_ROLE,
        "RoleSessionName": session_name(account),
        "ExternalId": "ext-123",
    }
    assert assume.access_key_id == AMBIENT_KEY_ID
    assert identity.action == "GetCallerIdentity"
    assert identity.access_key_id not in {AMBIENT_KEY_ID, None}
    # The assumed-role session is cached: a second test makes no AssumeRole.
    aws.proxy.clear()
    assert (await run_test(admin_client, account))["ok"] is True
    assert aws.proxy.actions() == ["GetCallerIdentity"]
    assert aws.proxy.calls[0].access_key_id == identity.access_key_id


async def test_role_arn_access_denied_explains_trust_policy(
    aws: AwsEnv,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, key_id, secret = aws.iam_user("server-without-assume-permission")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    account = await add_account(
        session, aws_auth_mode="role_arn", aws_role_arn=TARGET_ROLE, aws_external_id="ext-123"
    )
    aws.enable_iam_auth()
    body = await run_test(admin_client, account)
    assert body["ok"] is False
    assert f"AWS refused AssumeRole into {TARGET_ROLE} (AccessDenied)" in body["error"]
    assert "trust policy" in body["error"] and "ExternalId" in body["error"]
    assert aws.proxy.actions() == ["AssumeRole"]
    # A failure is not cached: the next test asks AWS again.
    assert (await run_test(admin_client, account))["ok"] is False
    assert aws.proxy.actions() == ["AssumeRole", "AssumeRole"]


async def test_role_arn_without_server_identity(
    aws: AwsEnv,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    account = await add_account(session, aws_auth_mode="role_arn", aws_role_arn=TARGET_ROLE)
    body = await run_test(admin_client, account)
    assert body["ok"] is False
    assert "the CUDly server has no AWS credentials of its own" in body["error"]


async def test_bastion_with_access_keys(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key_id, secret = aws.iam_user("hub")
    bastion = await add_account(session, name="hub")
    await store(admin_client, bastion, keys_body(key_id, secret))
    target = await add_account(
        session,
        aws_auth_mode="bastion",
        aws_bastion_id=bastion.id,
        aws_role_arn=TARGET_ROLE,
        aws_external_id="target-ext",
    )
    body = await run_test(admin_client, target)
    assert body == {
        "ok": True,
        "caller_identity": f"arn:aws:sts::222233334444:assumed-role/CUDly/{session_name(target)}",
    }
    # The bastion's keys sign AssumeRole into the target (with the target's ExternalId);
    # the target session asks who it is.
    assume, identity = aws.proxy.calls
    assert (assume.action, assume.access_key_id) == ("AssumeRole", key_id)
    assert assume.params == {
        "RoleArn": TARGET_ROLE,
        "RoleSessionName": session_name(target),
        "ExternalId": "target-ext",
    }
    assert identity.action == "GetCallerIdentity"
    assert identity.access_key_id not in {key_id, AMBIENT_KEY_ID}


async def test_bastion_with_role_arn_makes_exactly_two_sts_calls(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    bastion = await add_account(
        session, aws_auth_mode="role_arn", aws_role_arn=BASTION_ROLE, aws_external_id="hub-ext"
    )
    target = await add_account(
        session,
        aws_auth_mode="bastion",
        aws_bastion_id=bastion.id,
        aws_role_arn=TARGET_ROLE,
        aws_external_id="target-ext",
    )
    assert (await run_test(admin_client, target))["ok"] is True
    hop, assume, identity = aws.proxy.calls
    # Resolution: the bastion identity (its own AssumeRole, from the server's identity) ...
    assert (hop.action, hop.access_key_id) == ("AssumeRole", AMBIENT_KEY_ID)
    assert hop.params == {
        "RoleArn": BASTION_ROLE,
        "RoleSessionName": session_name(bastion),
        "ExternalId": "hub-ext",
    }
    # ... then AssumeRole into the target with the target's ExternalId, signed by the hop.
    assert assume.action == "AssumeRole"
    assert assume.access_key_id not in {AMBIENT_KEY_ID, None}
    assert assume.params == {
        "RoleArn": TARGET_ROLE,
        "RoleSessionName": session_name(target),
        "ExternalId": "target-ext",
    }
    # The test itself: one GetCallerIdentity with the target's session.
    assert identity.action == "GetCallerIdentity"
    assert identity.access_key_id not in {AMBIENT_KEY_ID, assume.access_key_id}


async def test_bastion_problems_are_explained(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    bastion = await add_account(session, name="hub-without-keys")
    target = await add_account(
        session, aws_auth_mode="bastion", aws_bastion_id=bastion.id, aws_role_arn=TARGET_ROLE
    )
    body = await run_test(admin_client, target)
    assert body["ok"] is False
    assert "hub-without-keys" in body["error"] and "no credentials configured" in body["error"]
    chained = await add_account(
        session, aws_auth_mode="bastion", aws_bastion_id=target.id, aws_role_arn=TARGET_ROLE
    )
    body = await run_test(admin_client, chained)
    assert body == {
        "ok": False,
        "error": f"bastion chaining is not supported: the bastion account {target.name!r} "
        "is itself in bastion mode",
    }
    assert aws.proxy.calls == []


async def test_bastion_credentials_change_is_not_served_from_cache(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, key_one, secret_one = aws.iam_user("hub-one")
    _, key_two, secret_two = aws.iam_user("hub-two")
    bastion = await add_account(session)
    await store(admin_client, bastion, keys_body(key_one, secret_one))
    target = await add_account(
        session, aws_auth_mode="bastion", aws_bastion_id=bastion.id, aws_role_arn=TARGET_ROLE
    )
    assert (await run_test(admin_client, target))["ok"] is True
    await store(admin_client, bastion, keys_body(key_two, secret_two))
    aws.proxy.clear()
    assert (await run_test(admin_client, target))["ok"] is True
    assert next((c.action, c.access_key_id) for c in aws.proxy.calls) == ("AssumeRole", key_two)


async def test_workload_identity_federation(
    aws: AwsEnv, admin_client: httpx.AsyncClient, session: AsyncSession, tmp_path: Path
) -> None:
    inline = await add_account(
        session, aws_auth_mode="workload_identity_federation", aws_role_arn=TARGET_ROLE
    )
    await store(admin_client, inline, {"type": "aws_wif", "web_identity_token": "oidc.jwt.token"})
    body = await run_test(admin_client, inline)
    assert body == {
        "ok": True,
        "caller_identity": f"arn:aws:sts::222233334444:assumed-role/CUDly/{session_name(inline)}",
    }
    hop, identity = aws.proxy.calls
    assert hop.action == "AssumeRoleWithWebIdentity"
    assert hop.access_key_id is None  # unsigned: the token is the credential
    assert hop.params == {"RoleArn": TARGET_ROLE, "RoleSessionName": session_name(inline)}
    assert identity.action == "GetCallerIdentity"

    token_file = tmp_path / "token"
    token_file.write_text("oidc.jwt.from-file\n")
    from_file = await add_account(  # a role of its own account: SPEC §3 identity check
        session,
        aws_auth_mode="workload_identity_federation",
        aws_role_arn=TARGET_ROLE.replace("222233334444", "222233334445"),
    )
    await store(
        admin_client, from_file, {"type": "aws_wif", "web_identity_token_file": str(token_file)}
    )
    aws.proxy.clear()
    assert (await run_test(admin_client, from_file))["ok"] is True
    assert aws.proxy.actions() == ["AssumeRoleWithWebIdentity", "GetCallerIdentity"]

    missing = await add_account(
        session, aws_auth_mode="workload_identity_federation", aws_role_arn=TARGET_ROLE
    )
    await store(
        admin_client,
        missing,
        {"type": "aws_wif", "web_identity_token_file": str(tmp_path / "absent")},
    )
    body = await run_test(admin_client, missing)
    assert body["ok"] is False
    assert "cannot read the web identity token file" in body["error"]


async def test_secrets_never_in_logs_or_bodies(
    aws: AwsEnv,
    admin_client: httpx.AsyncClient,
    session: AsyncSession,
    log_capture: pytest.LogCaptureFixture,
) -> None:
    _, key_id, secret = aws.iam_user()
    good = await add_account(session)
    await store(admin_client, good, keys_body(key_id, secret))
    bad = await add_account(session)
    bad_secret = "definitely-not-the-secret-0000000000000"
    await store(admin_client, bad, keys_body(key_id, bad_secret))
    wif = await add_account(
        session, aws_auth_mode="workload_identity_federation", aws_role_arn=TARGET_ROLE
    )
    await store(admin_client, wif, {"type": "aws_wif", "web_identity_token": "wif-secret-token"})
    log_capture.set_level(logging.DEBUG)
    bodies = [await run_test(admin_client, a) for a in (good, wif)]
    aws.enable_iam_auth()
    bodies.append(await run_test(admin_client, bad))
    assert bodies[-1]["ok"] is False
    text = repr(bodies) + log_capture.text
    for value in (secret, bad_secret, "wif-secret-token", AMBIENT_SECRET):
        assert value not in text
