"""The one fan-out helper: bounded concurrency over ``asyncio.TaskGroup`` with per-item capture.

Collection, plan execution and discovery all run "one task per account". Each item runs under
a semaphore, with its own timeout, and its outcome (value, error or timeout) is captured inside
its task, so a task never raises into the group: one account's exception or timeout can never
cancel another's. Only cancelling the whole ``fan_out`` call cancels the items.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the name is pinned in INTERFACES.md

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one item produced: a value, an error, or a timeout."""

    index: int  # position in the input
    value: T | None = None
    error: BaseException | None = None  # never the CancelledError of the whole run
    timed_out: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


async def _run_item(
    index: int,
    item: I,
    work: Callable[[I], Awaitable[T]],
    timeout_s: float | None,
) -> Outcome[T]:
    started = time.perf_counter()
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            value = await work(item)
    except TimeoutError as exc:
        duration = time.perf_counter() - started
        if deadline.expired():
            return Outcome(index=index, timed_out=True, duration_s=duration)
        # A TimeoutError the work raised itself (e.g. a socket timeout) is an error.
        return Outcome(index=index, error=exc, duration_s=duration)
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the whole run is being cancelled: let the group unwind
        # A CancelledError escaping from inside the work (an inner task was cancelled) is
        # that item's error, not a reason to stop the others.
        return Outcome(index=index, error=exc, duration_s=time.perf_counter() - started)
    except Exception as exc:
        return Outcome(index=index, error=exc, duration_s=time.perf_counter() - started)
    return Outcome(index=index, value=value, duration_s=time.perf_counter() - started)


async def fan_out(
    items: Sequence[I],
    work: Callable[[I], Awaitable[T]],
    *,
    limit: int,
    timeout_s: float | None,
    on_done: Callable[[I, Outcome[T]], Awaitable[None]] | None = None,
) -> list[Outcome[T]]:
    """Run ``work`` over ``items``, at most ``limit`` at a time, each within ``timeout_s``.

    Returns one ``Outcome`` per item in input order. ``on_done`` is awaited as each item
    finishes (outside the semaphore, so a slow callback never holds a slot); an exception in
    it is logged and does not affect other items.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    semaphore = asyncio.Semaphore(limit)
    outcomes: list[Outcome[T] | None] = [None] * len(items)

    async def one(index: int, item: I) -> None:
        async with semaphore:
            outcome = await _run_item(index, item, work, timeout_s)
        outcomes[index] = outcome
        if on_done is not None:
            try:
                await on_done(item, outcome)
            except Exception:
                logger.exception("fan-out completion callback failed for item %d", index)

    async with asyncio.TaskGroup() as group:
        for index, item in enumerate(items):
            group.create_task(one(index, item))

    return [outcome for outcome in outcomes if outcome is not None]
