"""Workload-identity token files (AWS, Azure, GCP): server configuration, not user input.

A stored credential may name a token file only under a directory the operator listed in
``CUDLY_WIF_TOKEN_DIRS`` (default: none, so file-based WIF is off). The path is resolved
(symlinks included) before the check, and every problem — outside the directories, missing,
a directory, too large, empty, unreadable — gets the same message, so the feature cannot be
used to probe or read the server's files.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from api.config import Settings
from api.providers.base import ProviderError

TOKEN_FILE_MAX_BYTES = 64 * 1024
TOKEN_FILE_UNUSABLE = (
    "cannot read the {what} file: it must be a readable, non-empty file of at most 64 KiB "
    "under a directory listed in CUDLY_WIF_TOKEN_DIRS"
)
PATH_REFUSED = (
    "token files must be under a directory listed in CUDLY_WIF_TOKEN_DIRS on the CUDly server"
)


def token_dirs(settings: Settings) -> list[Path]:
    """The allowed directories, resolved; empty when file-based WIF is off."""
    dirs: list[Path] = []
    for raw in settings.clouds.wif_token_dirs.split(","):
        raw = raw.strip()
        if raw.startswith("/"):
            dirs.append(Path(os.path.realpath(raw)))
    return dirs


def allowed_token_path(path: str, settings: Settings) -> Path | None:
    """``path`` with every symlink resolved, when it lies under an allowed directory."""
    if not path.startswith("/") or "\x00" in path:
        return None
    resolved = Path(os.path.realpath(path))
    for directory in token_dirs(settings):
        if resolved != directory and resolved.is_relative_to(directory):
            return resolved
    return None


def read_token_file_sync(path: str, what: str, settings: Settings) -> str:
    """The stripped token; :class:`ProviderError` with one message for every problem."""
    unusable = ProviderError(TOKEN_FILE_UNUSABLE.format(what=what), code="wif_token_file")
    resolved = allowed_token_path(path, settings)
    if resolved is None:
        raise unusable
    try:
        # O_NOFOLLOW: a symlink swapped in after the check is refused, not followed.
        fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            if not os.path.isfile(resolved):
                raise unusable
            data = handle.read(TOKEN_FILE_MAX_BYTES + 1)
        if len(data) > TOKEN_FILE_MAX_BYTES:
            raise unusable
        token = data.decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise unusable from None
    if not token:
        raise unusable
    return token


async def read_token_file(path: str, what: str, settings: Settings) -> str:
    """:func:`read_token_file_sync` off the event loop."""
    return await asyncio.to_thread(read_token_file_sync, path, what, settings)
