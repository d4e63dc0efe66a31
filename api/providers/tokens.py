"""Workload-identity token files (AWS, Azure): read at each use, size-capped, never echoed."""

from __future__ import annotations

import asyncio

from api.providers.base import ProviderError

TOKEN_FILE_MAX_BYTES = 64 * 1024


async def read_token_file(path: str, what: str) -> str:
    """The stripped contents of ``path``; :class:`ProviderError` naming ``what`` otherwise."""

    def read() -> str:
        with open(path, "rb") as handle:
            data = handle.read(TOKEN_FILE_MAX_BYTES + 1)
        if len(data) > TOKEN_FILE_MAX_BYTES:
            raise ValueError("too large")
        return data.decode("utf-8").strip()

    try:
        token = await asyncio.to_thread(read)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ProviderError(
            f"cannot read the {what} file {path} ({reason})", code="wif_token_file"
        ) from None
    if not token:
        raise ProviderError(f"the {what} file {path} is empty", code="wif_token_file")
    return token
