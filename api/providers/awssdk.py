"""The AWS SDK primitives every AWS call shares: one aioboto3 session per process, the client
settings (region, standard retries, timeouts, CA bundle) and the credentials of one session.

They sit beside ``aws/`` rather than inside it so :mod:`api.providers.clients` can build
per-account clients without importing the AWS capabilities (which import it in turn).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore import UNSIGNED

from api.config import Settings
from api.providers.http import botocore_http_session_cls, botocore_verify
from api.telemetry.aws import instrument_aws_session


@dataclass(frozen=True, repr=False)
class AwsSessionCredentials:
    """Credentials for one AWS session (static or temporary). Renders as ``[REDACTED]``."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiration: datetime | None = None

    def __repr__(self) -> str:
        return f"AwsSessionCredentials([REDACTED], expiration={self.expiration})"

    __str__ = __repr__


def client_kwargs(
    settings: Settings, *, unsigned: bool = False, max_pool_connections: int | None = None
) -> dict[str, Any]:
    """Keyword arguments for every aioboto3 client (region, retries, timeouts, CA bundle);
    ``max_pool_connections`` sizes the client's connection pool (botocore's default: 10)."""
    pool = {} if max_pool_connections is None else {"max_pool_connections": max_pool_connections}
    config = AioConfig(
        http_session_cls=botocore_http_session_cls(),
        region_name=settings.clouds.aws_region,
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=settings.clouds.http_timeout_s,
        read_timeout=settings.clouds.http_timeout_s,
        user_agent_extra="cudly",
        **pool,
        **({"signature_version": UNSIGNED} if unsigned else {}),
    )
    kwargs: dict[str, Any] = {"region_name": settings.clouds.aws_region, "config": config}
    verify = botocore_verify(settings)
    if verify is not None:
        kwargs["verify"] = verify
    return kwargs


_shared_session: aioboto3.Session | None = None


def shared_session() -> aioboto3.Session:
    """The process's one aioboto3 session, holding no credentials of its own.

    A new session per account reloads botocore's service models (~115 ms CPU per client
    against ~4 ms from a shared one), so every client that is given explicit credentials
    is made from this one.
    """
    global _shared_session
    if _shared_session is None:
        _shared_session = instrument_aws_session(aioboto3.Session())  # call series
    return _shared_session
