"""Argon2id password hashing (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile
# Verified against when the email is unknown, so both paths cost the same (no enumeration).
_DUMMY_HASH = _hasher.hash("cudly-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash, spends the same time and returns False."""
    return await asyncio.to_thread(_verify, password_hash, password)
