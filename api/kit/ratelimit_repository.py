"""Every query of the shared rate-limit windows (``rate_limit_windows``).

Each function runs on the caller's session, inside the caller's transaction: the limiter
never opens a connection or a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Each row's own limit, window and backoff flag, looked up by bucket in the bound arrays.
_AT = "array_position(CAST(:buckets AS text[]), w.bucket)"
_LIMIT = f"(CAST(:limits AS integer[]))[{_AT}]"
_BACKOFF = f"(CAST(:backoffs AS boolean[]))[{_AT}]"
# How long the row's current window lasts: its window doubled per strike (capped at 2**6).
_SPAN = (
    f"make_interval(secs => (CAST(:windows AS double precision[]))[{_AT}]"
    " * power(2, LEAST(w.strikes, 6)))"
)
_EXPIRED = f"w.window_start <= now() - {_SPAN}"

# Check and count every bucket in one statement, all or nothing: when any bucket is full
# nothing is counted (a locked-out pair must not keep filling the wider buckets). The
# pre-check reads a snapshot; the guard that makes it exact is the DO UPDATE's WHERE, which
# sees the latest row under its lock, so N concurrent callers never all slip under a limit
# (a race can only over-count, never under-count). Run outside an explicit transaction, the
# rows are locked for the statement alone; rows are taken in bucket order (no deadlocks).
_CONSUME = text(
    f"""
    WITH full_now AS (
        SELECT 1 FROM rate_limit_windows AS w
        WHERE w.bucket = ANY(CAST(:buckets AS text[]))
          AND NOT ({_EXPIRED}) AND w.count >= {_LIMIT}
    )
    INSERT INTO rate_limit_windows AS w (bucket, window_start, count, strikes)
    SELECT bucket, now(), 1, 0 FROM unnest(CAST(:buckets AS text[])) AS bucket
    WHERE NOT EXISTS (SELECT 1 FROM full_now)
    ORDER BY bucket
    ON CONFLICT (bucket) DO UPDATE SET
        window_start = CASE WHEN {_EXPIRED} THEN now() ELSE w.window_start END,
        strikes = CASE WHEN NOT ({_EXPIRED}) THEN w.strikes
                       WHEN {_BACKOFF} AND w.count >= {_LIMIT} THEN LEAST(w.strikes + 1, 6)
                       ELSE 0 END,
        count = CASE WHEN {_EXPIRED} THEN 1 ELSE w.count + 1 END
    WHERE {_EXPIRED} OR w.count < {_LIMIT}
    RETURNING w.bucket
    """  # noqa: S608 - the f-string joins constant SQL fragments; values are bound
)

# The buckets that are full now, with the seconds until their window ends.
_FULL = text(
    f"""
    SELECT w.bucket, EXTRACT(EPOCH FROM (w.window_start + {_SPAN} - now()))
    FROM rate_limit_windows AS w
    WHERE w.bucket = ANY(CAST(:buckets AS text[]))
      AND NOT ({_EXPIRED}) AND w.count >= {_LIMIT}
    """  # noqa: S608 - constant SQL fragments only
)

_REFUND = text(
    "UPDATE rate_limit_windows SET count = count - 1 WHERE bucket = :bucket AND count > 0"
)

_RESET = text("DELETE FROM rate_limit_windows WHERE bucket = :bucket")


async def consume(
    session: AsyncSession,
    buckets: Sequence[str],
    limits: Sequence[int],
    windows_s: Sequence[int],
    backoffs: Sequence[bool],
) -> set[str]:
    """Count one event in every bucket still under its limit; the buckets that were counted."""
    rows = await session.execute(
        _CONSUME,
        {
            "buckets": list(buckets),
            "limits": list(limits),
            "windows": [float(w) for w in windows_s],
            "backoffs": list(backoffs),
        },
    )
    return {str(bucket) for (bucket,) in rows}


async def use_autocommit(session: AsyncSession) -> None:
    """Run the session's statements each in its own transaction (call before the first one).

    For a caller whose only writes are :func:`consume`: the bucket rows are then locked for
    the statement alone, never across a round trip, however busy the server is.
    """
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def full_buckets(
    session: AsyncSession,
    buckets: Sequence[str],
    limits: Sequence[int],
    windows_s: Sequence[int],
) -> dict[str, float]:
    """The buckets at their limit, each with the seconds left in its window."""
    rows = await session.execute(
        _FULL,
        {
            "buckets": list(buckets),
            "limits": list(limits),
            "windows": [float(w) for w in windows_s],
        },
    )
    return {str(bucket): max(0.0, float(left)) for bucket, left in rows}


async def refund(session: AsyncSession, bucket: str) -> None:
    """Give back one counted event (the attempt turned out fine)."""
    await session.execute(_REFUND, {"bucket": bucket})


async def reset(session: AsyncSession, bucket: str) -> None:
    await session.execute(_RESET, {"bucket": bucket})
