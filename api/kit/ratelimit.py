"""Fixed-window counters in PostgreSQL, so every worker and replica shares one limit.

One upsert per hit: the row is reset when its window has passed, else incremented, and the
new count decides. Postgres serialises concurrent upserts on the same key, so N parallel
hits from N workers count exactly N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.models import RateLimitWindow

_HIT = text(
    """
    INSERT INTO rate_limit_windows AS w (bucket, window_start, count)
    VALUES (:bucket, now(), 1)
    ON CONFLICT (bucket) DO UPDATE SET
        window_start = CASE WHEN w.window_start <= now() - make_interval(secs => :window)
                            THEN now() ELSE w.window_start END,
        count = CASE WHEN w.window_start <= now() - make_interval(secs => :window)
                     THEN 1 ELSE w.count + 1 END
    RETURNING count, window_start, now() AS db_now
    """
)

_PEEK = text(
    """
    SELECT count, window_start, now() AS db_now FROM rate_limit_windows
    WHERE bucket = :bucket AND window_start > now() - make_interval(secs => :window)
    """
)


@dataclass(frozen=True)
class Window:
    count: int
    retry_after_s: int


def _retry_after(window_start: datetime, db_now: datetime, window_s: int) -> int:
    remaining = (window_start + timedelta(seconds=window_s) - db_now).total_seconds()
    return max(1, math.ceil(remaining))


async def hit(maker: async_sessionmaker[AsyncSession], bucket: str, window_s: int) -> Window:
    """Count one event in ``bucket`` and return the window's count.

    Runs in a transaction of its own, committed at once: the request that triggered it may
    fail and roll back (a failed login does), and the hit must still count.
    """
    async with maker() as session, session.begin():
        row = (await session.execute(_HIT, {"bucket": bucket, "window": window_s})).one()
    count, window_start, db_now = row
    return Window(count=count, retry_after_s=_retry_after(window_start, db_now, window_s))


async def peek(session: AsyncSession, bucket: str, window_s: int) -> Window:
    """The current count without adding to it."""
    row = (await session.execute(_PEEK, {"bucket": bucket, "window": window_s})).first()
    if row is None:
        return Window(count=0, retry_after_s=0)
    count, window_start, db_now = row
    return Window(count=count, retry_after_s=_retry_after(window_start, db_now, window_s))


async def reset(maker: async_sessionmaker[AsyncSession], bucket: str) -> None:
    async with maker() as session, session.begin():
        await session.execute(delete(RateLimitWindow).where(RateLimitWindow.bucket == bucket))
