"""A work queue kept in PostgreSQL rows, worked by every server process of every replica.

The domain's rows are the queue (a collection run's accounts, an execution group's
executions); its repository owns the SQL: which rows are claimable, the global bound (at
claim time, under a transaction-level advisory lock), the claim itself (``SELECT … FOR
UPDATE SKIP LOCKED``, then a new claim token, the worker's id and a heartbeat on each row),
and the finish write, which must match the claim token so a stale worker's late result is
discarded. This module is the process side of it:

- :class:`Listener`: one ``LISTEN`` connection per process that wakes idle loops at once
  (``NOTIFY`` on start and on every finish), with a short poll as the fallback. Its
  ``application_name`` marks the process as a live worker: :func:`live_workers` counts
  those connections, so a process killed outright stops counting the moment PostgreSQL
  sees its socket close — no registry table to clean up.
- :class:`ClaimLoop`: claims while it has room, runs each claimed batch through the shared
  :func:`~api.kit.fanout.fan_out` in its own ``TaskGroup`` (per-item timeout and error
  capture unchanged), heartbeats exactly the claims it is working on, cancels a claim the
  heartbeat reports lost, and on shutdown hands its unfinished claims back.

Claims are only ever refreshed while their task runs: a claim whose finish write failed (the
database was away) simply goes stale and is re-claimed, never left ``running``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from api.kit.fanout import Outcome, fan_out
from api.kit.tasks import cancel_all, raise_if_stopping

I = TypeVar("I")  # noqa: E741 - as in api.kit.fanout
T = TypeVar("T")

logger = logging.getLogger(__name__)

# PostgreSQL keeps 63 bytes of an application_name; the prefix marks worker connections.
WORKER_APPLICATION_PREFIX = "cudly-worker "
RECONNECT_S = 1.0


def new_worker_id() -> str:
    """``host:pid:random`` — unique per loop even with several apps in one process (tests)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"


def asyncpg_dsn(url: URL) -> tuple[str, dict[str, Any]]:
    """A plain asyncpg DSN (and its query arguments) for the engine's URL."""
    query = dict(url.query)
    bare = url.set(drivername="postgresql", query={})
    return bare.render_as_string(hide_password=False), {
        k: v if isinstance(v, str) else v[0] for k, v in query.items()
    }


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """Queue a NOTIFY, delivered when the session's transaction commits (never before)."""
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
    )


async def live_workers(session: AsyncSession, *, excluding: str | None = None) -> int:
    """How many processes hold a worker's LISTEN connection to this database right now."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name LIKE :prefix"
    )
    params: dict[str, Any] = {"prefix": WORKER_APPLICATION_PREFIX + "%"}
    if excluding is not None:
        query += " AND application_name <> :mine"
        params["mine"] = worker_application_name(excluding)
    return int((await session.execute(text(query), params)).scalar_one())


def worker_application_name(worker_id: str) -> str:
    return (WORKER_APPLICATION_PREFIX + worker_id)[:63]


class Waker:
    """A level-triggered wake-up: set by a notification or a freed slot, cleared by ``wait``."""

    def __init__(self, wants: Callable[[str], bool] | None = None) -> None:
        self._event = asyncio.Event()
        self.wants = wants  # which payloads wake it (None: every one)

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s``; True when woken (and then cleared)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
        except TimeoutError:
            return False
        self._event.clear()
        return True


class Listener:
    """``LISTEN channel`` on a dedicated connection (outside the pool), reconnecting forever."""

    def __init__(
        self,
        url: URL,
        channel: str,
        worker_id: str,
        *,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.channel = channel
        self.worker_id = worker_id
        self._dsn, self._query = asyncpg_dsn(url)
        self._connect_timeout_s = connect_timeout_s
        self._wakers: list[Waker] = []
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def waker(self, wants: Callable[[str], bool] | None = None) -> Waker:
        """A waker set by the channel's notifications whose payload it ``wants`` (default
        all), and once on each reconnect (what was notified while away is looked at)."""
        waker = Waker(wants)
        self._wakers.append(waker)
        return waker

    def forget(self, waker: Waker) -> None:
        with contextlib.suppress(ValueError):
            self._wakers.remove(waker)

    def wake_all(self) -> None:
        for waker in list(self._wakers):
            waker.set()

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        for waker in list(self._wakers):
            if waker.wants is None or waker.wants(payload):
                waker.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen-{self.channel}")
        # Not waiting long: a database that is away now is retried in the background.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout_s):
                await self.connected.wait()

    async def stop(self) -> None:
        await cancel_all([self._task])
        self._task = None

    async def _run(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                settings = {"application_name": worker_application_name(self.worker_id)}
                connection = await asyncpg.connect(
                    self._dsn,
                    timeout=self._connect_timeout_s,
                    server_settings=settings,
                    **self._query,
                )
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(self.channel, self._on_notification)
                self.connected.set()
                self.wake_all()  # anything notified while away is looked at now
                while not lost.is_set():
                    # A dead server without a FIN is found by this probe, not by waiting.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(10):
                            await lost.wait()
                    if not lost.is_set():
                        await connection.fetchval("SELECT 1", timeout=10)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_stopping()
                logger.warning("LISTEN %s: connection lost (%s); retrying", self.channel, exc)
            finally:
                self.connected.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            await asyncio.sleep(RECONNECT_S)


@dataclass(frozen=True)
class Claim(Generic[I]):
    """One claimed row: its claim token (the finish write must match it) and the item."""

    token: uuid.UUID
    item: I


class ClaimLoop(Generic[I, T]):
    """Claim, work and heartbeat rows of one queue in this process (see the module docstring).

    - ``claim(in_flight)`` claims what the global bound and this process's share allow
      (``in_flight``: how many this loop runs now) and returns the claims;
    - ``work(claim)`` does one item (cancelled if its claim is lost or it times out);
    - ``on_done(claim, outcome, lost)`` records it (``lost``: the claim went to another
      worker, so nothing may be written);
    - ``heartbeat(tokens)`` refreshes the claims and returns the tokens still held;
    - ``release(tokens)`` hands unfinished claims back (on shutdown);
    - ``batch_context(claims)``, optional, wraps each batch (a tracing span, log context).
    """

    def __init__(
        self,
        *,
        claim: Callable[[int], Awaitable[Sequence[Claim[I]]]],
        work: Callable[[Claim[I]], Awaitable[T]],
        on_done: Callable[[Claim[I], Outcome[T], bool], Awaitable[None]],
        heartbeat: Callable[[list[uuid.UUID]], Awaitable[set[uuid.UUID]]],
        release: Callable[[list[uuid.UUID]], Awaitable[None]],
        waker: Waker,
        timeout_s: float | None,
        heartbeat_s: float,
        poll_s: float,
        batch_context: Callable[[Sequence[Claim[I]]], AbstractContextManager[object]] | None = None,
    ) -> None:
        self._claim = claim
        self._batch_context = batch_context
        self._group: asyncio.TaskGroup | None = None
        self._work = work
        self._on_done = on_done
        self._heartbeat = heartbeat
        self._release = release
        self.waker = waker
        self._timeout_s = timeout_s
        self._heartbeat_s = heartbeat_s
        self._poll_s = poll_s
        self.in_flight: dict[uuid.UUID, Claim[I]] = {}
        self._tasks: dict[uuid.UUID, asyncio.Task[T]] = {}
        self._lost: set[uuid.UUID] = set()
        self.claimed_total = 0

    async def run(
        self,
        until: Callable[[], Awaitable[bool]] | None = None,
        *,
        initial: Sequence[Claim[I]] = (),
    ) -> None:
        """Work until cancelled, or until ``until()`` is true with nothing left in flight.

        ``initial``: claims already taken (in the transaction that created the work).
        """
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                beating = group.create_task(self._beat())
                self.adopt(initial)
                while True:
                    if await self.claim_now():
                        continue  # there may be room for more right away
                    if until is not None and not self.in_flight and await until():
                        beating.cancel()
                        break
                    await self.waker.wait(self._poll_s)
        except BaseException:
            # Shutdown (or a bug): what is still claimed goes back to the queue for others.
            tokens = list(self.in_flight)
            if tokens:
                try:
                    await self._release(tokens)
                except Exception:
                    logger.warning("could not release %d claims", len(tokens), exc_info=True)
            raise
        finally:
            self._group = None

    def adopt(self, claimed: Sequence[Claim[I]]) -> bool:
        """Start work on claims taken elsewhere (False when the loop is not running)."""
        if self._group is None:
            return False
        if claimed:
            self.claimed_total += len(claimed)
            for item in claimed:
                self.in_flight[item.token] = item
            self._group.create_task(self._batch(claimed))
        return True

    async def claim_now(self) -> int:
        """Claim once and start what was claimed; how many (0 when not running)."""
        if self._group is None:
            return 0
        claimed = await self._claim_safely()
        return len(claimed) if self.adopt(claimed) else 0

    async def _batch(self, claimed: Sequence[Claim[I]]) -> None:
        with self._batch_context(claimed) if self._batch_context else contextlib.nullcontext():
            await fan_out(
                claimed,
                self._one,
                limit=len(claimed),
                timeout_s=self._timeout_s,
                on_done=self._done,
            )

    async def _claim_safely(self) -> Sequence[Claim[I]]:
        try:
            return await self._claim(len(self.in_flight))
        except Exception:
            raise_if_stopping()
            logger.warning("claiming work failed; retrying", exc_info=True)
            return []

    async def _one(self, claim: Claim[I]) -> T:
        # Its own task, so a lost claim can be cancelled without touching the others.
        task = asyncio.ensure_future(self._work(claim))
        self._tasks[claim.token] = task
        try:
            return await task
        finally:
            self._tasks.pop(claim.token, None)

    async def _done(self, claim: Claim[I], outcome: Outcome[T]) -> None:
        lost = claim.token in self._lost
        try:
            await self._on_done(claim, outcome, lost)
        finally:
            # Recorded or not, this loop stops heart-beating it: a row whose finish write
            # failed goes stale and is re-claimed.
            self.in_flight.pop(claim.token, None)
            self._lost.discard(claim.token)
            self.waker.set()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            tokens = list(self.in_flight)
            started = time.monotonic()
            try:
                held = await self._heartbeat(tokens)
            except Exception:
                raise_if_stopping()
                logger.warning("heartbeat of %d claims failed", len(tokens), exc_info=True)
                continue
            for token in tokens:
                if token not in held and token in self.in_flight:
                    # Another worker re-claimed it (this process stalled past the stale
                    # limit): stop sweeping, its finish write would be discarded anyway.
                    logger.warning(
                        "claim %s was taken over after %.1f s; cancelling its work",
                        token,
                        time.monotonic() - started,
                    )
                    self._lost.add(token)
                    task = self._tasks.get(token)
                    if task is not None:
                        task.cancel()
