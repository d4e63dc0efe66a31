"""fan_out with real tasks: the bound, per-item timeouts and errors, clean cancellation."""

from __future__ import annotations

import asyncio

import pytest

from api.kit.fanout import Outcome, fan_out


class Gauge:
    """Counts items in flight and remembers the peak."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0

    async def hold(self, seconds: float) -> None:
        self.current += 1
        self.peak = max(self.peak, self.current)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.current -= 1


async def test_results_in_input_order_and_bound_respected_and_reached() -> None:
    gauge = Gauge()

    async def work(item: int) -> int:
        # Later items finish first, so completion order differs from input order.
        await gauge.hold(0.001 * (20 - item))
        return item * 10

    outcomes = await fan_out(list(range(20)), work, limit=4, timeout_s=5)

    assert [o.value for o in outcomes] == [i * 10 for i in range(20)]
    assert [o.index for o in outcomes] == list(range(20))
    assert all(o.ok for o in outcomes)
    assert gauge.peak == 4


async def test_a_slow_item_times_out_alone() -> None:
    release = asyncio.Event()

    async def work(item: str) -> str:
        if item == "slow":
            await release.wait()  # never set: only the timeout ends it
        return item

    outcomes = await fan_out(["a", "slow", "b"], work, limit=3, timeout_s=0.05)

    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].timed_out and outcomes[1].error is None
    assert outcomes[1].duration_s >= 0.05
    assert [outcomes[0].value, outcomes[2].value] == ["a", "b"]


async def test_an_exception_stays_in_its_item() -> None:
    async def work(item: int) -> int:
        if item == 1:
            raise RuntimeError("account 1 broke")
        await asyncio.sleep(0.01)
        return item

    outcomes = await fan_out([0, 1, 2], work, limit=1, timeout_s=None)

    assert outcomes[0].value == 0 and outcomes[2].value == 2
    assert isinstance(outcomes[1].error, RuntimeError)
    assert str(outcomes[1].error) == "account 1 broke"
    assert not outcomes[1].ok and not outcomes[1].timed_out


async def test_a_timeout_error_raised_by_the_work_is_an_error_not_a_timeout() -> None:
    async def work(item: int) -> int:
        raise TimeoutError("socket read timed out")

    [outcome] = await fan_out([1], work, limit=1, timeout_s=10)

    assert isinstance(outcome.error, TimeoutError) and not outcome.timed_out


async def test_an_inner_cancellation_is_that_items_error() -> None:
    async def work(item: int) -> int:
        if item == 0:
            inner = asyncio.ensure_future(asyncio.sleep(10))
            inner.cancel()
            await inner  # raises CancelledError although nobody cancelled this item
        return item

    outcomes = await fan_out([0, 1], work, limit=2, timeout_s=1)

    assert isinstance(outcomes[0].error, asyncio.CancelledError)
    assert outcomes[1].value == 1


async def test_on_done_is_called_as_each_item_finishes_and_its_errors_are_contained() -> None:
    seen: list[tuple[int, bool]] = []

    async def work(item: int) -> int:
        await asyncio.sleep(0.01 * (3 - item))
        if item == 2:
            raise ValueError("bad")
        return item

    async def on_done(item: int, outcome: Outcome[int]) -> None:
        seen.append((item, outcome.ok))
        if item == 1:
            raise RuntimeError("callback broke")

    outcomes = await fan_out([0, 1, 2], work, limit=3, timeout_s=1, on_done=on_done)

    assert seen == [(2, False), (1, True), (0, True)]  # completion order
    assert [o.ok for o in outcomes] == [True, True, False]


async def test_cancelling_the_whole_run_cancels_every_item_cleanly() -> None:
    started = 0
    cleaned = 0
    done_calls = 0
    gate = asyncio.Event()

    async def work(item: int) -> int:
        nonlocal started, cleaned
        started += 1
        if started == 3:
            gate.set()
        try:
            await asyncio.sleep(10)
        finally:
            cleaned += 1
        return item

    async def on_done(item: int, outcome: Outcome[int]) -> None:
        nonlocal done_calls
        done_calls += 1

    before = asyncio.all_tasks()
    run = asyncio.create_task(
        fan_out(list(range(10)), work, limit=3, timeout_s=None, on_done=on_done)
    )
    await gate.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert started == 3 and cleaned == 3  # the running ones unwound, the waiting never started
    assert done_calls == 0
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()


async def test_empty_input_and_bad_limit() -> None:
    async def work(item: int) -> int:
        return item

    assert await fan_out([], work, limit=5, timeout_s=1) == []
    with pytest.raises(ValueError, match="limit"):
        await fan_out([1], work, limit=0, timeout_s=1)
