"""AWS session resolution and the assumed-role cache, against moto behind the STS proxy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.config import Settings
from api.credentials.schemas import CREDENTIALS_ADAPTER
from api.models import CloudAccount
from api.providers.aws.client import (
    AssumedRoleCache,
    ambient_session,
    assumed_role_cache,
    resolve_session,
)
from api.providers.awssdk import AwsSessionCredentials
from api.providers.base import AccountAuth, AccountSnapshot, ProviderError
from tests.credentials.fixtures import AMBIENT_KEY_ID, AwsEnv

ROLE = "arn:aws:iam::222233334444:role/CUDly"


@pytest.fixture
def aws_settings() -> Settings:
    return Settings.model_validate(
        {"env": "test", "database_url": "postgresql://x/y", "credential_encryption_key": "ab" * 32}
    )


def role_account(**fields: object) -> CloudAccount:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "name": "target",
        "provider": "aws",
        "external_id": "222233334444",
        "aws_auth_mode": "role_arn",
        "aws_role_arn": ROLE,
        "aws_external_id": "ext-1",
    }
    values.update(fields)
    return CloudAccount(**values)


def auth(account: CloudAccount, **kwargs: object) -> AccountAuth:
    return AccountAuth(
        account=AccountSnapshot.of(account),
        credentials=None,
        fingerprint=None,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_cache_serves_until_five_minutes_before_expiry(
    aws: AwsEnv, aws_settings: Settings
) -> None:
    account = role_account()
    first = await resolve_session(auth(account), aws_settings)
    assert first.expiration is not None
    assert aws.proxy.actions() == ["AssumeRole"]
    assert await resolve_session(auth(account), aws_settings) is first
    assert aws.proxy.actions() == ["AssumeRole"]
    expiration = first.expiration
    real_clock = assumed_role_cache.clock
    try:
        assumed_role_cache.clock = lambda: expiration - timedelta(minutes=5, seconds=1)
        assert await resolve_session(auth(account), aws_settings) is first
        assumed_role_cache.clock = lambda: expiration - timedelta(minutes=4, seconds=59)
        second = await resolve_session(auth(account), aws_settings)
    finally:
        assumed_role_cache.clock = real_clock
    assert second is not first
    assert aws.proxy.actions() == ["AssumeRole", "AssumeRole"]


async def test_cache_key_includes_role_and_external_id(aws: AwsEnv, aws_settings: Settings) -> None:
    account = role_account()
    await resolve_session(auth(account), aws_settings)
    account.aws_external_id = "ext-2"
    await resolve_session(auth(account), aws_settings)
    account.aws_role_arn = "arn:aws:iam::222233334444:role/Other"
    await resolve_session(auth(account), aws_settings)
    assert [c.params.get("ExternalId") for c in aws.proxy.calls] == ["ext-1", "ext-2", "ext-2"]
    assert [c.params["RoleArn"] for c in aws.proxy.calls][-1].endswith("role/Other")
    # Another account with the same role is its own entry.
    await resolve_session(auth(role_account()), aws_settings)
    assert len(aws.proxy.calls) == 4


async def test_concurrent_resolutions_assume_once(aws: AwsEnv, aws_settings: Settings) -> None:
    account = role_account()
    sessions = await asyncio.gather(
        *(resolve_session(auth(account), aws_settings) for _ in range(8))
    )
    assert len({id(s) for s in sessions}) == 1
    assert aws.proxy.actions() == ["AssumeRole"]
    assert aws.proxy.calls[0].access_key_id == AMBIENT_KEY_ID


async def test_static_keys_make_no_call(aws: AwsEnv, aws_settings: Settings) -> None:
    account = role_account(aws_auth_mode="access_keys", aws_role_arn=None)
    keys = CREDENTIALS_ADAPTER.validate_python(
        {
            "type": "aws_access_keys",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        }
    )
    resolved = await resolve_session(
        AccountAuth(account=AccountSnapshot.of(account), credentials=keys, fingerprint="f"),
        aws_settings,
    )
    assert resolved.access_key_id == "AKIAIOSFODNN7EXAMPLE"
    assert "wJalr" not in repr(resolved)
    assert aws.proxy.calls == []


async def test_invalid_role_arn_is_refused_before_any_call(
    aws: AwsEnv, aws_settings: Settings
) -> None:
    with pytest.raises(ProviderError, match="no valid aws_role_arn"):
        await resolve_session(
            auth(role_account(aws_role_arn="arn:aws:iam::1:role/x")), aws_settings
        )
    with pytest.raises(ProviderError, match="bastion"):
        await resolve_session(auth(role_account(aws_auth_mode="bastion")), aws_settings)
    assert aws.proxy.calls == []


def test_cache_unit_behaviour() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    cache = AssumedRoleCache(max_entries=2)
    cache.clock = lambda: now
    creds = AwsSessionCredentials("AKIA", "secret", "token", now + timedelta(hours=1))
    account_id = uuid.uuid4()
    keys = [(str(account_id), "r", "", "a"), (str(account_id), "r", "", "b"), ("x", "r", "", "a")]
    cache.put(keys[0], creds)
    cache.put(keys[1], creds)
    cache.put(keys[2], creds)
    assert len(cache) == 2 and cache.get(keys[0]) is None  # oldest evicted
    cache.evict_account(account_id)
    assert len(cache) == 1
    cache.put(keys[0], AwsSessionCredentials("AKIA", "s", None, None))  # no expiry: not cached
    assert cache.get(keys[0]) is None
    assert "secret" not in repr(creds) and "token" not in repr(creds)


async def test_ambient_session_is_one_until_the_environment_changes(
    aws: AwsEnv, aws_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """role_arn accounts assume with one ambient session (a new one reloads botocore's data);
    a changed AWS_* variable or credentials file is read again."""
    first = ambient_session()
    for _ in range(3):
        await resolve_session(auth(role_account()), aws_settings)
    assert ambient_session() is first
    assert {c.access_key_id for c in aws.proxy.calls} == {AMBIENT_KEY_ID}

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FAKEROTATEDAMBIENTKEY")
    rotated = ambient_session()
    assert rotated is not first
    await resolve_session(auth(role_account()), aws_settings)
    assert aws.proxy.calls[-1].access_key_id == "FAKEROTATEDAMBIENTKEY"
    assert ambient_session() is rotated

    credentials_file = tmp_path / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    assert ambient_session() is not rotated
    in_file = ambient_session()
    credentials_file.write_text("[default]\n")  # the file appeared: read it again
    assert ambient_session() is not in_file
