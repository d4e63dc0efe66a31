"""The throttling policy: retries while throttled, honours the server's hint, stops at the
attempt limit or before the account's deadline, with a message saying why."""

from __future__ import annotations

import time

import pytest

from api.providers.base import ProviderError
from api.providers.retry import RetryPolicy, Throttled


async def test_retries_until_fine() -> None:
    policy = RetryPolicy.within(10, base_delay_s=0.01)
    answers: list[Throttled | str] = [Throttled(), Throttled(), "ok"]

    async def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Throttled):
            raise answer
        return answer

    assert await policy.run(call, what="x") == "ok"
    assert policy.retries == 2


async def test_gives_up_before_the_deadline() -> None:
    policy = RetryPolicy.within(0.5, base_delay_s=0.01)
    started = time.monotonic()

    async def call() -> str:
        raise Throttled(retry_after_s=0.2)

    with pytest.raises(ProviderError, match="stayed throttled") as caught:
        await policy.run(call, what="ce:GetReservationPurchaseRecommendation")
    assert caught.value.code == "throttled"
    assert "ce:GetReservationPurchaseRecommendation" in caught.value.message
    assert time.monotonic() - started < 0.5  # never sleeps past the budget
    assert policy.retries >= 1


async def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy.within(60, base_delay_s=0.001, max_attempts=3)
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise Throttled()

    with pytest.raises(ProviderError, match="after 3 attempts"):
        await policy.run(call, what="x")
    assert calls == 3


def test_delay_is_jittered_capped_and_respects_the_hint() -> None:
    policy = RetryPolicy.within(60, base_delay_s=1, max_delay_s=4)
    delays = [policy.delay(10, None) for _ in range(200)]
    assert all(0 <= d <= 4 for d in delays) and len(set(delays)) > 1
    assert policy.delay(0, 3.0) >= 3.0
