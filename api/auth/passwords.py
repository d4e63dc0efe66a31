"""Argon2id password hashing (argon2-cffi), off the event loop and on a bounded pool.

Hashing is deliberately expensive (64 MiB, 3 passes). A flood of sign-ins must cost the
attacker's share of the CPU, not the event loop's: the hashes run on their own threads, one
fewer than the CPUs, so the loop always keeps a core for every other request.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile
# Verified against when the email is unknown, so both paths cost the same (no enumeration).
_DUMMY_HASH = _hasher.hash("cudly-timing-equaliser")
_executor = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="argon2"
)


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_executor, _hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash, spends the same time and returns False."""
    return await asyncio.get_running_loop().run_in_executor(
        _executor, _verify, password_hash, password
    )
