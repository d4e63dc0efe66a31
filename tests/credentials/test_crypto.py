"""AES-256-GCM blobs, the key ring and the key sources (SPEC §3 Credentials)."""

from __future__ import annotations

import base64
import logging
import re
import uuid
from functools import partial

import httpx
import pytest
from fastapi import FastAPI

from api.config import Settings
from api.kit import crypto
from api.kit.crypto import (
    CredentialKeyError,
    DecryptionFailed,
    KeyRing,
    get_key_ring,
    key_id_for,
    load_key_ring,
)
from api.providers.aws.secrets import get_secret_string
from tests.conftest import TEST_KEY
from tests.credentials.fixtures import AwsEnv, add_account

KEY_A = bytes.fromhex("a1" * 32)
KEY_B = bytes.fromhex("b2" * 32)
ACCOUNT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
OTHER = uuid.UUID("00000000-0000-0000-0000-0000000000bb")
SECRET = b'{"secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"}'
BLOB = re.compile(r"^v1:([0-9a-f]{16}):([A-Za-z0-9_=-]+)\.([A-Za-z0-9_=-]+)$")


def seal(ring: KeyRing, account: uuid.UUID = ACCOUNT, kind: str = "aws_access_keys") -> str:
    return ring.encrypt(SECRET, account_id=account, credential_type=kind)


def test_round_trip_and_blob_format() -> None:
    ring = KeyRing(KEY_A)
    blob = seal(ring)
    match = BLOB.match(blob)
    assert match, blob
    assert match.group(1) == ring.active_key_id == key_id_for(KEY_A)
    assert len(base64.urlsafe_b64decode(match.group(2))) == 12  # 96-bit nonce
    # ciphertext + 16-byte tag
    assert len(base64.urlsafe_b64decode(match.group(3))) == len(SECRET) + 16
    assert SECRET not in blob.encode()
    assert ring.decrypt(blob, account_id=ACCOUNT, credential_type="aws_access_keys") == SECRET


def test_fresh_nonce_every_time() -> None:
    ring = KeyRing(KEY_A)
    blobs = {seal(ring) for _ in range(50)}
    assert len(blobs) == 50
    assert len({BLOB.match(b).group(2) for b in blobs}) == 50  # type: ignore[union-attr]


def test_key_id_is_a_stable_fingerprint() -> None:
    assert key_id_for(KEY_A) == key_id_for(bytes(KEY_A))
    assert key_id_for(KEY_A) != key_id_for(KEY_B)
    assert re.fullmatch(r"[0-9a-f]{16}", key_id_for(KEY_A))
    assert KEY_A.hex() not in key_id_for(KEY_A)


@pytest.mark.parametrize("position", [-1, -5, 20, 30])
def test_tampering_fails(position: int) -> None:
    ring = KeyRing(KEY_A)
    blob = seal(ring)
    head, _, body = blob.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[position % len(raw)] ^= 0x01
    tampered = f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(DecryptionFailed):
        ring.decrypt(tampered, account_id=ACCOUNT, credential_type="aws_access_keys")


def test_tampered_nonce_fails() -> None:
    ring = KeyRing(KEY_A)
    prefix, nonce, rest = re.match(r"^(v1:[0-9a-f]{16}:)([^.]+)(\..+)$", seal(ring)).groups()  # type: ignore[union-attr]
    raw = bytearray(base64.urlsafe_b64decode(nonce))
    raw[0] ^= 0x80
    with pytest.raises(DecryptionFailed):
        ring.decrypt(
            prefix + base64.urlsafe_b64encode(bytes(raw)).decode() + rest,
            account_id=ACCOUNT,
            credential_type="aws_access_keys",
        )


def test_blob_moved_to_another_account_fails() -> None:
    ring = KeyRing(KEY_A)
    with pytest.raises(DecryptionFailed, match="not sealed for this account"):
        ring.decrypt(seal(ring), account_id=OTHER, credential_type="aws_access_keys")


def test_blob_relabelled_with_another_type_fails() -> None:
    ring = KeyRing(KEY_A)
    with pytest.raises(DecryptionFailed):
        ring.decrypt(seal(ring), account_id=ACCOUNT, credential_type="azure_client_secret")


def test_relabelled_key_id_fails() -> None:
    ring = KeyRing(KEY_A, [KEY_B])
    blob = seal(ring).replace(key_id_for(KEY_A), key_id_for(KEY_B))
    with pytest.raises(DecryptionFailed):
        ring.decrypt(blob, account_id=ACCOUNT, credential_type="aws_access_keys")


@pytest.mark.parametrize("blob", ["", "v2:abc:def.ghi", "v1:0123456789abcdef:!!.??", "plain"])
def test_malformed_blob(blob: str) -> None:
    with pytest.raises(DecryptionFailed):
        KeyRing(KEY_A).decrypt(blob, account_id=ACCOUNT, credential_type="aws_access_keys")


def test_decrypt_only_keys() -> None:
    old = KeyRing(KEY_A)
    blob = seal(old)
    rotated = KeyRing(KEY_B, [KEY_A])
    assert rotated.active_key_id == key_id_for(KEY_B)
    assert rotated.key_ids == {key_id_for(KEY_A), key_id_for(KEY_B)}
    assert rotated.decrypt(blob, account_id=ACCOUNT, credential_type="aws_access_keys") == SECRET
    # New blobs always use the active key.
    assert rotated.encrypt(b"x", account_id=ACCOUNT, credential_type="t").startswith(
        f"v1:{key_id_for(KEY_B)}:"
    )
    # Without the old key, the error names the missing key id (never the key).
    with pytest.raises(DecryptionFailed, match=key_id_for(KEY_A)) as exc:
        KeyRing(KEY_B).decrypt(blob, account_id=ACCOUNT, credential_type="aws_access_keys")
    assert KEY_A.hex() not in str(exc.value)


def test_errors_and_reprs_never_carry_keys_or_plaintext() -> None:
    ring = KeyRing(KEY_A, [KEY_B])
    text = repr(ring) + str(ring)
    assert KEY_A.hex() not in text and KEY_B.hex() not in text
    for account, kind in [(OTHER, "aws_access_keys"), (ACCOUNT, "gcp_service_account")]:
        with pytest.raises(DecryptionFailed) as exc:
            ring.decrypt(seal(ring), account_id=account, credential_type=kind)
        rendered = f"{exc.value!r} {exc.value}"
        assert "wJalrXUtnFEMI" not in rendered and KEY_A.hex() not in rendered


# --- key sources ---------------------------------------------------------------------------


def make(**values: object) -> Settings:
    return Settings.model_validate({"env": "test", "database_url": "postgresql://x/y", **values})


async def test_environment_key() -> None:
    ring = await load_key_ring(make(credential_encryption_key=TEST_KEY))
    assert ring.active_key_id == key_id_for(bytes.fromhex(TEST_KEY))


async def test_decrypt_only_keys_from_settings() -> None:
    settings = make(
        credential_encryption_key=KEY_B.hex(),
        credential_decrypt_only_keys=f"{KEY_A.hex()}, {'c3' * 32}",
    )
    ring = await load_key_ring(settings)
    assert ring.active_key_id == key_id_for(KEY_B)
    assert key_id_for(KEY_A) in ring.key_ids and len(ring.key_ids) == 3
    blob = seal(KeyRing(KEY_A))
    assert ring.decrypt(blob, account_id=ACCOUNT, credential_type="aws_access_keys") == SECRET


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "a" * 63, "a" * 65])
def test_invalid_key_is_a_clear_startup_error(bad: str) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal") as exc:
        make(credential_encryption_key=bad)
    assert bad not in str(exc.value)
    with pytest.raises(ValueError, match="64 hexadecimal") as exc:
        make(credential_encryption_key=TEST_KEY, credential_decrypt_only_keys=f"{'a' * 64},{bad}")
    assert bad not in str(exc.value)


async def test_dev_key_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    first = await load_key_ring(make())
    second = await load_key_ring(make())
    assert first.active_key_id == second.active_key_id  # deterministic
    assert any(
        r.levelno == logging.WARNING and "DEVELOPMENT CREDENTIAL KEY" in r.getMessage()
        for r in caplog.records
    )


async def test_dev_key_refused_in_production() -> None:
    # Settings refuses it already; the loader refuses it too, whatever built the settings.
    with pytest.raises(ValueError, match="dev key is refused"):
        make(env="production")
    settings = make(env="production", credential_encryption_key=TEST_KEY).model_copy(
        update={"credential_encryption_key": None}
    )
    with pytest.raises(CredentialKeyError, match="dev key is refused"):
        await load_key_ring(settings)


async def test_secrets_manager_key_source(
    app: FastAPI, aws: AwsEnv, caplog: pytest.LogCaptureFixture
) -> None:
    # ``app``: the product's logging configuration, here at DEBUG.
    caplog.set_level(logging.DEBUG)
    crypto.clear_secret_cache()
    arn = aws.boto("secretsmanager").create_secret(Name="cudly/key", SecretString=KEY_A.hex())[
        "ARN"
    ]
    # The ARN wins over CREDENTIAL_ENCRYPTION_KEY.
    settings = make(credential_encryption_key_secret_arn=arn, credential_encryption_key=KEY_B.hex())
    read_secret = partial(get_secret_string, settings)
    ring = await load_key_ring(settings, read_secret)
    assert ring.active_key_id == key_id_for(KEY_A)
    # Cached for the process: a changed secret is not re-read.
    aws.boto("secretsmanager").put_secret_value(SecretId=arn, SecretString=KEY_B.hex())
    assert (await load_key_ring(settings, read_secret)).active_key_id == key_id_for(KEY_A)
    assert KEY_A.hex() not in caplog.text
    crypto.clear_secret_cache()
    assert (await load_key_ring(settings, read_secret)).active_key_id == key_id_for(KEY_B)
    crypto.clear_secret_cache()


async def test_secrets_manager_errors_are_clear(aws: AwsEnv) -> None:
    crypto.clear_secret_cache()
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    settings = make(credential_encryption_key_secret_arn=missing)
    with pytest.raises(CredentialKeyError, match="ResourceNotFoundException"):
        await load_key_ring(settings, partial(get_secret_string, settings))
    arn = aws.boto("secretsmanager").create_secret(Name="bad", SecretString="not-a-key")["ARN"]
    settings = make(credential_encryption_key_secret_arn=arn)
    with pytest.raises(CredentialKeyError, match="64 hexadecimal") as exc:
        await load_key_ring(settings, partial(get_secret_string, settings))
    assert "not-a-key" not in str(exc.value)
    crypto.clear_secret_cache()


async def test_get_key_ring_builds_once_per_app(app: FastAPI) -> None:
    first = await get_key_ring(app)
    assert first is await get_key_ring(app)
    assert first is app.state.key_ring
    assert first.active_key_id == key_id_for(bytes.fromhex(TEST_KEY))


async def test_unusable_key_source_is_503_without_details(
    app: FastAPI, aws: AwsEnv, admin_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    crypto.clear_secret_cache()
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    app.state.settings = app.state.settings.model_copy(
        update={"credential_encryption_key_secret_arn": arn}
    )
    app.state.key_ring = None  # built at startup: drop it so the broken source is used
    response = await admin_client.post(
        f"/api/accounts/{uuid.uuid4()}/credentials",
        json={"type": "azure_client_secret", "client_secret": "x"},
    )
    # Unknown account: 404 comes first, the key ring is only needed to store.
    assert response.status_code == 404
    async with app.state.sessionmaker() as db:
        account = await add_account(db, "azure")
    response = await admin_client.post(
        f"/api/accounts/{account.id}/credentials",
        json={"type": "azure_client_secret", "client_secret": "x"},
    )
    assert response.status_code == 503
    assert response.json()["code"] == "credential_key_unavailable"
    assert arn not in response.text
    assert "ResourceNotFoundException" in caplog.text  # the operator sees why
    crypto.clear_secret_cache()


async def test_a_broken_key_source_stops_the_start(aws: AwsEnv, database_url: str) -> None:
    """The key ring is built at startup: a missing secret fails fast, not at first use."""
    from api.main import create_app
    from tests.conftest import make_settings

    crypto.clear_secret_cache()
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf"
    app = create_app(make_settings(database_url, credential_encryption_key_secret_arn=arn))
    with pytest.raises(Exception) as info:
        async with app.router.lifespan_context(app):
            pass
    assert arn not in str(info.value)
    crypto.clear_secret_cache()
