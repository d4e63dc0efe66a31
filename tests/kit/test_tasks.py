"""Stopping background loops whose cancellation gets lost on the way.

Seen in the suite: a claim loop cancelled at shutdown while its claim query hung on a frozen
connection; the driver turned the CancelledError into its own error, the loop's ``except
Exception`` logged it and carried on, and the app's shutdown waited for it forever. Each test
here waits with a deadlock guard (``STUCK_S``, through ``asyncio.wait``, which cancels nothing
it waits for): without the fix it fails there instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

import pytest

from api.kit.claims import Claim, ClaimLoop, Waker
from api.kit.tasks import cancel_all, raise_if_stopping

STUCK_S = 20  # a deadlock guard only: every test ends in well under a second when it passes


async def ended(task: asyncio.Task[object]) -> bool:
    """Whether ``task`` ends within the guard (it is not cancelled by the waiting)."""
    await asyncio.wait({task}, timeout=STUCK_S)
    return task.done()


class DriverError(Exception):
    """What a database driver raises instead of CancelledError when cancelled mid-call."""


async def driver_call(calls: list[int]) -> None:
    """A call on a connection that never answers; cancelled, it raises the driver's error."""
    calls.append(1)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        raise DriverError("connection was closed in the middle of operation") from None


async def test_a_loop_that_checks_raise_if_stopping_ends_on_the_first_cancel() -> None:
    calls: list[int] = []

    async def loop() -> None:
        while True:
            try:
                await driver_call(calls)
            except Exception:
                raise_if_stopping()
                continue  # a real error: retry

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    task.cancel()  # once
    assert await ended(task)
    assert task.cancelled()
    assert calls == [1]  # not retried after the cancel


async def test_raise_if_stopping_is_silent_for_an_ordinary_error() -> None:
    try:
        raise DriverError("a real failure")
    except DriverError:
        raise_if_stopping()  # nothing asked this task to stop: no CancelledError


async def test_cancel_all_asks_again_when_the_first_cancel_was_swallowed() -> None:
    swallowed: list[str] = []

    async def loop() -> None:
        # The first cancel is turned into an error and handled like one (no guard here);
        # the loop then waits again, where the next cancel ends it.
        while True:
            try:
                await driver_call([])
            except DriverError:
                swallowed.append("once")
                await asyncio.Event().wait()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(cancel_all([task]))
    assert await ended(stopping)
    assert task.cancelled()
    assert swallowed == ["once"]


async def test_cancel_all_leaves_a_task_that_never_stops_behind_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()

    async def deaf() -> None:
        while not stop.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # ignores every request

    task = asyncio.create_task(deaf(), name="deaf-loop")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="api.kit.tasks"):
        stopping = asyncio.create_task(cancel_all([task], give_up_after_s=0.2))
        assert await ended(stopping)
    assert not task.done()
    assert "deaf-loop did not stop when cancelled" in caplog.text
    stop.set()
    task.cancel()
    assert await ended(task)


async def test_a_claim_loop_stops_when_its_claim_query_turns_the_cancel_into_an_error() -> None:
    calls: list[int] = []
    claiming = asyncio.Event()

    async def claim(_in_flight: int) -> Sequence[Claim[str]]:
        claiming.set()
        await driver_call(calls)
        return []

    async def work(item: Claim[str]) -> str:
        return item.item

    async def on_done(*_args: object) -> None:
        return None

    async def heartbeat(tokens: list[uuid.UUID]) -> set[uuid.UUID]:
        return set(tokens)

    async def release(_tokens: list[uuid.UUID]) -> None:
        return None

    claims: ClaimLoop[str, str] = ClaimLoop(
        claim=claim,
        work=work,
        on_done=on_done,
        heartbeat=heartbeat,
        release=release,
        waker=Waker(),
        timeout_s=None,
        heartbeat_s=3600,
        poll_s=3600,
    )
    task = asyncio.create_task(claims.run())
    await claiming.wait()
    task.cancel()  # once, as a shutdown does before awaiting the loop
    assert await ended(task)
    assert task.cancelled()
    assert calls == [1]
