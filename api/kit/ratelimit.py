"""Fixed-window limits counted in PostgreSQL, so every worker and replica shares them.

A limit is *consumed* before the work it guards: one atomic statement checks every bucket
and counts in all of them, or in none when one is full (:mod:`api.kit.ratelimit_repository`),
so concurrent callers can never all pass a check that none of them has counted yet.
Everything runs on the caller's session: the limiter never takes a second pooled connection
nor opens a transaction of its own. A caller inside a transaction keeps the bucket rows
locked until it commits; a caller that must not (sign-in, under a burst) calls
:func:`use_autocommit` first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from api.kit import ratelimit_repository as repository


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` events per ``window_s`` in ``bucket``.

    With ``backoff``, a window that ended full makes the next one twice as long (up to 64x),
    so a sustained attack is slowed more and more while a burst of typos costs one window.
    """

    bucket: str
    limit: int
    window_s: int
    backoff: bool = False


@dataclass(frozen=True)
class Blocked:
    """The first limit that refused the event, and when to retry."""

    limit: Limit
    retry_after_s: int


async def consume(session: AsyncSession, limits: Sequence[Limit]) -> Blocked | None:
    """Count one event in every bucket, or return the first one that is full.

    One statement for all buckets; when this returns :class:`Blocked`, nothing was counted.
    """
    if not limits:
        return None
    counted = await repository.consume(
        session,
        [limit.bucket for limit in limits],
        [limit.limit for limit in limits],
        [limit.window_s for limit in limits],
        [limit.backoff for limit in limits],
    )
    if len(counted) == len(limits):
        return None
    full = await repository.full_buckets(
        session,
        [limit.bucket for limit in limits],
        [limit.limit for limit in limits],
        [limit.window_s for limit in limits],
    )
    # The longest wait is the one that decides when a retry can pass.
    waits = [(full[limit.bucket], limit) for limit in limits if limit.bucket in full]
    if not waits:  # freed between the two statements: retry at once
        return Blocked(limit=limits[0], retry_after_s=1)
    left, limit = max(waits, key=lambda wait: wait[0])
    return Blocked(limit=limit, retry_after_s=max(1, math.ceil(left)))


async def use_autocommit(session: AsyncSession) -> None:
    """Each statement of ``session`` commits at once (call before its first statement)."""
    await repository.use_autocommit(session)


async def refund(session: AsyncSession, limits: Sequence[Limit]) -> None:
    """Give back the event counted in each bucket (the guarded work turned out harmless)."""
    for limit in limits:
        await repository.refund(session, limit.bucket)


async def reset(session: AsyncSession, bucket: str) -> None:
    """Forget a bucket's window altogether."""
    await repository.reset(session, bucket)
