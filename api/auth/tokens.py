"""Opaque bearer tokens and API keys: random, shown once, stored as SHA-256 only.

SHA-256 (not a password hash) is right here: the secrets are 256-bit random values, so a
fast hash loses nothing, and lookups by hash stay one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

SESSION_PREFIX = "cus_"
API_KEY_PREFIX = "cuk_"


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_display_prefix(key: str) -> str:
    """The part of a key shown in lists, enough to tell keys apart, useless to an attacker."""
    return key[: len(API_KEY_PREFIX) + 6]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
