"""One ``LISTEN cudly_executions`` connection per process: wake-ups across processes and replicas.

Migration 0009's trigger announces every change of an execution's status (except the claim)
on ``cudly_executions`` with the group id as payload, in the transaction that makes it —
whichever process or replica made it. This connection hears them and

- calls each ``on_any`` callback (the runner's claimer: new work, or a slot freed), and
- sets the events of the streams watching that group (SSE re-reads the group's rows).

Notifications are only wake-ups; the rows are the truth. A lost connection is re-opened on
the next ``ensure``/poll tick; everyone waiting is woken then (they re-read), and the
readers' own poll (``CUDLY_EXECUTION_POLL_S``) covers the gap.

The connection is separate from the engine's pool (it is held for the process's lifetime)
and opened on first use, so a process that neither claims work nor streams never opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

CHANNEL = "cudly_executions"


class ExecutionNotifications:
    """The process's listener; ``app.state.execution_notifications``."""

    def __init__(self, engine: AsyncEngine, connect_timeout_s: float = 5.0) -> None:
        self._engine = engine
        self._timeout = connect_timeout_s
        self._connection: asyncpg.Connection | None = None
        self._opening = asyncio.Lock()
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._on_any: list[Callable[[str], None]] = []
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    def on_any(self, callback: Callable[[str], None]) -> None:
        """``callback(group_id)`` on every notification, and after a reconnect (``""``)."""
        self._on_any.append(callback)

    @contextlib.contextmanager
    def watch(self, group_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set whenever the group's executions change (the caller clears it)."""
        event = asyncio.Event()
        key = str(group_id)
        self._watchers.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._watchers.get(key)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._watchers[key]

    async def ensure(self) -> bool:
        """Listening (opening the connection when it is not); False when the database is not
        reachable now — callers fall back to polling and call again later."""
        if self.connected:
            return True
        async with self._opening:
            if self.connected or self._closed:
                return self.connected
            reopened = self._connection is not None
            try:
                connection = await self._connect()
                await connection.add_listener(CHANNEL, self._heard)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                logger.warning(
                    "cannot listen for execution changes; polling",
                    extra={"error_type": type(exc).__name__},
                )
                return False
            self._connection = connection
        if reopened:
            # What changed while we were deaf is unknown: everyone re-reads.
            self._wake_all("")
        return True

    async def _connect(self) -> asyncpg.Connection:
        url = self._engine.url
        _, options = self._engine.dialect.create_connect_args(url)
        connection: asyncpg.Connection = await asyncpg.connect(
            **options,
            timeout=self._timeout,
            server_settings={"application_name": "cudly-listen"},
        )
        return connection

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._wake_all(payload)

    def _wake_all(self, group_id: str) -> None:
        for callback in list(self._on_any):
            try:
                callback(group_id)
            except Exception:
                logger.exception("execution notification callback failed")
        targets = (
            [e for events in self._watchers.values() for e in events]
            if not group_id
            else list(self._watchers.get(group_id, ()))
        )
        for event in targets:
            event.set()

    async def aclose(self) -> None:
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=self._timeout)
