"""Credential encryption: AES-256-GCM under a key ring, with the row identity bound as AAD.

A blob is ``v1:<key_id>:<b64url nonce>.<b64url ciphertext+tag>`` (RFC 4648 §5 alphabet, with
``=`` padding; unpadded input is accepted too). The associated data binds the format
version, the key id, the cloud account id and the credential type, so a blob copied to
another account's row, or relabelled with another credential type, fails to decrypt.

``key_id`` is the first 16 hex characters of ``SHA-256("cudly-key-id:" + key)``: stable, so
blobs name the key that sealed them and an old key can stay decrypt-only during rotation.

Key source, in order (SPEC §3): ``CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN`` (AWS Secrets
Manager, ``SecretString`` = 64 hex characters, fetched once per process),
``CREDENTIAL_ENCRYPTION_KEY`` (64 hex characters), else a deterministic dev-only key with a
loud warning - refused outright when ``CUDLY_ENV=production``. Keys in
``CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS`` (comma-separated) decrypt but never encrypt.

No error raised here ever carries key material or plaintext.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.config import Environment, Settings
from api.errors import AppError
from api.telemetry.metrics import record_decryption_failure

logger = logging.getLogger(__name__)

BLOB_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_BLOB = re.compile(r"^v1:([0-9a-f]{16}):([A-Za-z0-9_-]+={0,2})\.([A-Za-z0-9_-]+={0,2})$")
# Derived from a public constant: anyone can compute it, which is why it is dev-only.
_DEV_KEY = hashlib.sha256(b"cudly-development-only-credential-key").digest()


class CredentialKeyError(AppError):
    """The encryption key configuration is unusable (startup/configuration problem)."""

    status_code = 500
    code = "credential_key_invalid"


class KeyRingUnavailable(AppError):
    """Raised to HTTP clients when the key ring cannot be built (details in the server log)."""

    status_code = 503
    code = "credential_key_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "credential encryption is not available: the server's key configuration is "
            "invalid or unreachable (see the server log)"
        )


class DecryptionFailed(AppError):
    """A stored blob cannot be opened with any configured key (or was tampered with/moved).

    The message is fixed text: it never includes the key, the blob or the plaintext.
    """

    status_code = 500
    code = "credentials_undecryptable"

    def __init__(self, reason: str = "stored credentials cannot be decrypted") -> None:
        super().__init__(reason)


def key_id_for(key: bytes) -> str:
    """The public fingerprint naming ``key`` in blobs (16 hex characters)."""
    return hashlib.sha256(b"cudly-key-id:" + key).hexdigest()[:16]


def parse_hex_key(value: str, *, source: str) -> bytes:
    """Decode a 64-hex-character key; ``source`` names where it came from in the error."""
    text = value.strip()
    if not _HEX_KEY.match(text):
        raise CredentialKeyError(
            f"{source} must be 64 hexadecimal characters (a 256-bit key), "
            "e.g. the output of `openssl rand -hex 32`"
        )
    return bytes.fromhex(text)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(key_id: str, account_id: uuid.UUID, credential_type: str) -> bytes:
    return f"cudly-credential|{BLOB_VERSION}|{key_id}|{account_id}|{credential_type}".encode()


class KeyRing:
    """One active key (encrypts and decrypts) plus decrypt-only keys, picked by ``key_id``."""

    def __init__(self, active: bytes, decrypt_only: Iterable[bytes] = ()) -> None:
        if len(active) != KEY_BYTES:
            raise CredentialKeyError("the active credential key must be 32 bytes")
        self._active = AESGCM(active)
        self.active_key_id = key_id_for(active)
        self._keys: dict[str, AESGCM] = {self.active_key_id: self._active}
        for key in decrypt_only:
            if len(key) != KEY_BYTES:
                raise CredentialKeyError("every decrypt-only credential key must be 32 bytes")
            self._keys.setdefault(key_id_for(key), AESGCM(key))

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this ring can decrypt."""
        return frozenset(self._keys)

    def can_decrypt(self, key_id: str) -> bool:
        return key_id in self._keys

    def encrypt(self, plaintext: bytes, *, account_id: uuid.UUID, credential_type: str) -> str:
        """Seal ``plaintext`` for this account and credential type under the active key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._active.encrypt(
            nonce, plaintext, _aad(self.active_key_id, account_id, credential_type)
        )
        return f"{BLOB_VERSION}:{self.active_key_id}:{_b64e(nonce)}.{_b64e(sealed)}"

    def decrypt(self, blob: str, *, account_id: uuid.UUID, credential_type: str) -> bytes:
        """Open a blob sealed for exactly this account and credential type."""
        try:
            return self._open(blob, account_id=account_id, credential_type=credential_type)
        except DecryptionFailed:
            record_decryption_failure()  # cudly_credential_decryption_failures_total
            raise

    def _open(self, blob: str, *, account_id: uuid.UUID, credential_type: str) -> bytes:
        match = _BLOB.match(blob)
        if match is None:
            raise DecryptionFailed("stored credentials are not in the v1 blob format")
        key_id, nonce_text, sealed_text = match.groups()
        aes = self._keys.get(key_id)
        if aes is None:
            raise DecryptionFailed(
                f"stored credentials were encrypted with key {key_id}, which is not configured: "
                "add it to CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS (or run `cudly rekey`)"
            )
        try:
            nonce, sealed = _b64d(nonce_text), _b64d(sealed_text)
        except (binascii.Error, ValueError):
            raise DecryptionFailed("stored credentials are corrupt") from None
        if len(nonce) != NONCE_BYTES:
            raise DecryptionFailed("stored credentials are corrupt")
        try:
            return aes.decrypt(nonce, sealed, _aad(key_id, account_id, credential_type))
        except InvalidTag:
            # Tampered, moved to another row, or relabelled: indistinguishable by design.
            raise DecryptionFailed(
                "stored credentials failed the integrity check (tampered with, or not "
                "sealed for this account and credential type)"
            ) from None

    def __repr__(self) -> str:
        return f"KeyRing(active={self.active_key_id}, key_ids={sorted(self._keys)})"


# --- key sources -----------------------------------------------------------------------------

# Secrets Manager answers once per process per ARN (SPEC: "cached").
_secret_key_cache: dict[str, bytes] = {}
_secret_key_lock = asyncio.Lock()


# Reads a secret's text by ARN. Injected by the app (api.providers.aws.secrets), so this module
# never imports a cloud SDK or the providers package.
SecretReader = Callable[[str], Awaitable[str]]


async def _key_from_secrets_manager(read_secret: SecretReader | None, arn: str) -> bytes:
    async with _secret_key_lock:
        cached = _secret_key_cache.get(arn)
        if cached is not None:
            return cached
        if read_secret is None:
            raise CredentialKeyError(
                "CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN is set but no Secrets Manager reader was "
                "given to load_key_ring"
            )
        secret = await read_secret(arn)
        key = parse_hex_key(secret, source=f"the SecretString of {arn}")
        _secret_key_cache[arn] = key
        return key


def clear_secret_cache() -> None:
    """Forget keys fetched from Secrets Manager (tests; a process normally keeps them)."""
    _secret_key_cache.clear()


def _decrypt_only_keys(settings: Settings) -> list[bytes]:
    if settings.crypto.decrypt_only_keys is None:
        return []
    raw = settings.crypto.decrypt_only_keys.get_secret_value()
    return [
        parse_hex_key(part, source="each CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS entry")
        for part in raw.split(",")
        if part.strip()
    ]


async def load_key_ring(settings: Settings, read_secret: SecretReader | None = None) -> KeyRing:
    """Build the key ring from the configured key source (see the module docstring).

    ``read_secret`` fetches a Secrets Manager secret; needed only with
    ``CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN``.
    """
    decrypt_only = _decrypt_only_keys(settings)
    if settings.crypto.key_secret_arn:
        active = await _key_from_secrets_manager(read_secret, settings.crypto.key_secret_arn)
        source = "secrets_manager"
    elif settings.crypto.key is not None:
        active = parse_hex_key(
            settings.crypto.key.get_secret_value(),
            source="CREDENTIAL_ENCRYPTION_KEY",
        )
        source = "environment"
    else:
        if settings.env is Environment.production:
            raise CredentialKeyError(
                "CUDLY_ENV=production needs CREDENTIAL_ENCRYPTION_KEY or "
                "CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN: the dev key is refused"
            )
        logger.warning(
            "!!! USING THE BUILT-IN DEVELOPMENT CREDENTIAL KEY: stored cloud credentials are "
            "NOT protected. Set CREDENTIAL_ENCRYPTION_KEY (64 hex chars) or "
            "CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN before storing real credentials !!!"
        )
        active = _DEV_KEY
        source = "development"
    ring = KeyRing(active, decrypt_only)
    logger.info(
        "credential key ring ready",
        extra={
            "key_source": source,
            "active_key_id": ring.active_key_id,
            "decrypt_only_keys": len(ring.key_ids) - 1,
        },
    )
    return ring


async def get_key_ring(app_or_request: Any) -> KeyRing:
    """The app's key ring, built once (lazily, under a lock) and cached on ``app.state``.

    Accepts the FastAPI app or a request. Also usable as a startup hook
    (``app.state.startup_hooks.append(get_key_ring)``) to fail fast on a bad key. The
    Secrets Manager reader is ``app.state.read_secret`` (set by ``create_app``).
    """
    app = getattr(app_or_request, "app", app_or_request)
    state = app.state
    ring: KeyRing | None = getattr(state, "key_ring", None)
    if ring is not None:
        return ring
    lock: asyncio.Lock | None = getattr(state, "key_ring_lock", None)
    if lock is None:
        lock = asyncio.Lock()
        state.key_ring_lock = lock
    async with lock:
        ring = getattr(state, "key_ring", None)
        if ring is None:
            try:
                ring = await load_key_ring(state.settings, getattr(state, "read_secret", None))
            except CredentialKeyError as exc:
                # The detail (secret-free) is for the operator; clients get a generic 503.
                logger.error("credential key ring unavailable: %s", exc.message)
                raise KeyRingUnavailable() from None
            state.key_ring = ring
    return ring
