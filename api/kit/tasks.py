"""Stopping background tasks: cancel them all, then wait for each to finish.

A cancellation can be lost on its way: a database driver cancelled in the middle of a call on a
dead connection may raise its own error instead of ``CancelledError`` (seen with asyncpg under
SQLAlchemy), and a loop's ``except Exception: log and retry`` then carries on as if nothing had
been asked, so the shutdown that awaits it waits forever. The request stays counted on the task
(``Task.cancelling()``), which is what :func:`raise_if_stopping` looks at, and
:func:`cancel_all` asks again until each task has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger(__name__)

RECANCEL_S = 1.0


def raise_if_stopping() -> None:
    """Raise ``CancelledError`` when the running task has been asked to stop.

    Call it first in a background loop's ``except Exception`` handler: an error that stands in
    for a cancellation then stops the loop instead of being logged and retried.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError


async def cancel_all(
    tasks: Iterable[asyncio.Task[Any] | None], *, give_up_after_s: float = 30.0
) -> None:
    """Cancel every task, then wait for each; their cancellation or failure is not re-raised
    (a task stopped at shutdown has nothing left to report).

    A task still running after a second is cancelled again, every second (its first request
    may have been turned into an ordinary error and handled). One still running after
    ``give_up_after_s`` is left behind with a warning, so a shutdown never hangs on it.
    """
    pending = [t for t in tasks if t is not None]
    for task in pending:
        task.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after_s
    for task in pending:
        while not task.done():
            left = deadline - loop.time()
            if left <= 0:
                logger.warning("task %s did not stop when cancelled; leaving it", task.get_name())
                break
            await asyncio.wait({task}, timeout=min(RECANCEL_S, left))
            if not task.done():
                task.cancel()
        if task.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
