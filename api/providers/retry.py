"""One retry policy for throttled cloud calls: jittered exponential backoff inside a budget.

Each cloud says "slow down" its own way, so each wire family has a classifier here:

| family | throttled when | wait hint |
|---|---|---|
| AWS (botocore) | error code ``Throttling``, ``ThrottlingException``, ``RequestLimitExceeded``, ``TooManyRequestsException``, CE ``LimitExceededException`` | none |
| ARM | HTTP 429 (and 503) | ``x-ms-ratelimit-microsoft.consumption-retry-after``, else ``Retry-After`` (seconds) |
| Google | HTTP 429 ``RESOURCE_EXHAUSTED`` (and 503) | ``Retry-After`` |

botocore runs in retry mode ``standard`` underneath (a few quick attempts); this policy
retries on top of it, so a throttled account keeps trying until its own time budget (the
deadline, normally ``CUDLY_ACCOUNT_TIMEOUT_S`` from the start of its sweep) would be
exceeded - then the call fails with a ProviderError saying it was throttled. Other
accounts are never delayed: the wait is this account's ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from api.providers.base import ProviderError
from api.telemetry.metrics import record_backoff_retry

T = TypeVar("T")

logger = logging.getLogger(__name__)

AWS_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)
HTTP_THROTTLING_STATUSES = frozenset({429, 503})
ARM_RETRY_HEADERS = ("x-ms-ratelimit-microsoft.consumption-retry-after", "retry-after")
GOOGLE_RETRY_HEADERS = ("retry-after",)

BASE_DELAY_S = 0.25
MAX_DELAY_S = 20.0
MAX_ATTEMPTS = 8


class Throttled(Exception):
    """Raised by a call wrapper to ask the policy for another attempt."""

    def __init__(self, retry_after_s: float | None = None) -> None:
        super().__init__("throttled")
        self.retry_after_s = retry_after_s


@dataclass
class RetryPolicy:
    """Backoff for one account's sweep. ``deadline`` is a ``time.monotonic()`` value."""

    deadline: float
    base_delay_s: float = BASE_DELAY_S
    max_delay_s: float = MAX_DELAY_S
    max_attempts: int = MAX_ATTEMPTS
    retries: int = field(default=0, init=False)  # total retries made (for tests and logs)

    @classmethod
    def within(cls, budget_s: float, **kwargs: float | int) -> RetryPolicy:
        """A policy whose deadline is ``budget_s`` from now."""
        return cls(deadline=time.monotonic() + budget_s, **kwargs)  # type: ignore[arg-type]

    def delay(self, attempt: int, hint_s: float | None) -> float:
        """Full-jitter exponential backoff, never shorter than the server's hint."""
        backoff = random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))  # noqa: S311 - jitter, not crypto
        return max(backoff, hint_s or 0.0)

    async def run(self, call: Callable[[], Awaitable[T]], *, what: str) -> T:
        """``await call()``, retrying while it raises :class:`Throttled` and time allows."""
        attempt = 0
        while True:
            try:
                return await call()
            except Throttled as exc:
                wait = self.delay(attempt, exc.retry_after_s)
                attempt += 1
                if attempt >= self.max_attempts or time.monotonic() + wait >= self.deadline:
                    raise ProviderError(
                        f"{what} stayed throttled after {attempt} attempts: the cloud is "
                        "limiting this account's API rate - the next collection retries",
                        code="throttled",
                    ) from None
                self.retries += 1
                record_backoff_retry()  # counted against the call it repeats
                # The log context names the run (or execution), account and provider.
                logger.info("%s throttled: retry %d in %.1f s", what, attempt, wait)
                await asyncio.sleep(wait)


def malformed(what: str, detail: str = "") -> ProviderError:
    """The cloud answered something we cannot read (never echoes the body)."""
    suffix = f" ({detail})" if detail else ""
    return ProviderError(
        f"{what} returned a response CUDly cannot read{suffix}: the next collection retries; "
        "report it if it persists",
        code="malformed_response",
    )


def aws_is_throttled(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in AWS_THROTTLING_CODES


def retry_after_s(response: httpx.Response, headers: tuple[str, ...]) -> float | None:
    """The first parseable wait hint in ``headers`` (seconds), capped at MAX_DELAY_S."""
    for name in headers:
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
        return min(max(seconds, 0.0), MAX_DELAY_S)
    return None


async def aws_call(policy: RetryPolicy, call: Callable[[], Awaitable[T]], *, what: str) -> T:
    """One botocore call under ``policy``: throttling error codes are retried."""

    async def attempt() -> T:
        try:
            return await call()
        except ClientError as exc:
            if aws_is_throttled(exc):
                raise Throttled() from None
            raise
        except ResponseParserError:
            raise malformed(what) from None
        except (AttributeError, TypeError, KeyError, ValueError):
            # botocore's parsers fail this way on a body that is not the operation's shape.
            raise malformed(what, "unexpected structure") from None

    return await policy.run(attempt, what=what)


async def http_call(
    policy: RetryPolicy,
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    what: str,
    hint_headers: tuple[str, ...],
) -> httpx.Response:
    """One REST call under ``policy``: 429/503 retried, honouring the server's wait hint."""

    async def attempt() -> httpx.Response:
        response = await send()
        if response.status_code in HTTP_THROTTLING_STATUSES:
            raise Throttled(retry_after_s(response, hint_headers))
        return response

    return await policy.run(attempt, what=what)
