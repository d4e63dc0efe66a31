"""``cudly rekey``: re-encrypt every stored credential under a new key, in one transaction.

Zero-downtime rotation:
1. deploy with ``CREDENTIAL_ENCRYPTION_KEY=<new>`` and
   ``CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS=<old>`` (new writes use the new key, old blobs still
   open);
2. run ``cudly rekey --old-key <old> --new-key <new>``;
3. drop the old key from ``CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS``.

Every row is locked (``SELECT … FOR UPDATE``), decrypted with whichever known key its
``key_id`` names (the old key, the new key, or any key in the server's settings) and
re-sealed with the new key. A blob under an unknown key, or one that fails its integrity
check, aborts the whole run with nothing changed. Rows already under the new key are
left alone, so running it twice is harmless.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.credentials import repository
from api.db import create_engine, create_sessionmaker, database_url
from api.kit.crypto import (
    CredentialKeyError,
    DecryptionFailed,
    KeyRing,
    key_id_for,
    parse_hex_key,
)


@dataclass(frozen=True)
class RekeyResult:
    total: int
    reencrypted: int
    already_current: int
    new_key_id: str


class RekeyFailed(Exception):
    """Nothing was changed; the message says why (never with key material)."""


def _settings_keys(settings: Settings | None) -> list[bytes]:
    if settings is None:
        return []
    keys: list[bytes] = []
    if settings.crypto.key is not None:
        keys.append(
            parse_hex_key(
                settings.crypto.key.get_secret_value(),
                source="CREDENTIAL_ENCRYPTION_KEY",
            )
        )
    if settings.crypto.decrypt_only_keys is not None:
        keys.extend(
            parse_hex_key(part, source="CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS")
            for part in settings.crypto.decrypt_only_keys.get_secret_value().split(",")
            if part.strip()
        )
    return keys


async def rekey(
    session: AsyncSession,
    old_key: str,
    new_key: str,
    *,
    settings: Settings | None = None,
) -> RekeyResult:
    """Re-seal every credential blob with ``new_key`` (hex) inside the caller's transaction.

    Raises :class:`RekeyFailed` (the caller rolls back) when a blob cannot be opened.
    """
    try:
        old = parse_hex_key(old_key, source="--old-key")
        new = parse_hex_key(new_key, source="--new-key")
        extra = _settings_keys(settings)
    except CredentialKeyError as exc:
        raise RekeyFailed(exc.message) from None
    opener = KeyRing(new, [old, *extra])
    sealer = KeyRing(new)
    rows = await repository.lock_all_credentials(session)
    unknown = Counter(row.key_id for row in rows if not opener.can_decrypt(row.key_id))
    if unknown:
        listed = ", ".join(f"{key_id} ({count} blobs)" for key_id, count in sorted(unknown.items()))
        raise RekeyFailed(
            f"blobs are sealed with keys that are neither --old-key ({key_id_for(old)}) nor "
            f"--new-key ({key_id_for(new)}) nor configured: {listed}; nothing was changed"
        )
    reencrypted = already = 0
    for row in rows:
        try:
            plaintext = opener.decrypt(
                row.blob, account_id=row.cloud_account_id, credential_type=row.credential_type
            )
        except DecryptionFailed as exc:
            raise RekeyFailed(
                f"the credentials of account {row.cloud_account_id} cannot be decrypted "
                f"({exc.message}); nothing was changed"
            ) from None
        if row.key_id == sealer.active_key_id:
            already += 1
            continue
        row.blob = sealer.encrypt(
            plaintext, account_id=row.cloud_account_id, credential_type=row.credential_type
        )
        row.key_id = sealer.active_key_id
        reencrypted += 1
    await session.flush()
    return RekeyResult(
        total=len(rows),
        reencrypted=reencrypted,
        already_current=already,
        new_key_id=sealer.active_key_id,
    )


async def rekey_database(settings: Settings, old_key: str, new_key: str) -> RekeyResult:
    """Open the configured database and run :func:`rekey` in one committed transaction."""
    engine = create_engine(database_url(settings), settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await rekey(session, old_key, new_key, settings=settings)
    finally:
        await engine.dispose()
