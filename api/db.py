"""Engine and session factories; ``get_session`` is the one place a request commits.

Services ``flush()`` when they need ids and never commit. Read-only endpoints take
``AsyncReadSession`` so the type checker shows which code may write.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar, TypeVarTuple, overload

from fastapi import Depends, Request
from sqlalchemy import Executable, Result, ScalarResult, event, text
from sqlalchemy.engine.interfaces import _CoreAnyExecuteParams
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util.typing import TupleAny

from api.config import Settings
from api.kit.embedded_db import start_embedded_postgres, to_asyncpg_url

_T = TypeVar("_T")
_O = TypeVar("_O", bound=object)
_Ts = TypeVarTuple("_Ts")


class AsyncReadSession:
    """Reads only, inside a ``READ ONLY`` transaction that is rolled back, never committed.

    Deliberately *not* an ``AsyncSession``: it offers ``execute``, ``scalar``, ``scalars`` and
    ``get`` and nothing that writes (``add``, ``flush``, ``delete``, ``commit``), so passing it
    where a write session is expected is a type error, and PostgreSQL refuses a write that
    slips through raw SQL. Code that only reads takes :data:`Readable` (either kind).
    """

    __slots__ = ("_session",)

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Ts], params: _CoreAnyExecuteParams | None = None
    ) -> Result[*_Ts]: ...
    @overload
    async def execute(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None
    ) -> Result[*TupleAny]: ...
    async def execute(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None
    ) -> Result[*TupleAny]:
        return await self._session.execute(statement, params)

    @overload
    async def scalar(
        self, statement: TypedReturnsRows[_T], params: _CoreAnyExecuteParams | None = None
    ) -> _T | None: ...
    @overload
    async def scalar(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None
    ) -> Any: ...
    async def scalar(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None
    ) -> Any:
        return await self._session.scalar(statement, params)

    @overload
    async def scalars(
        self, statement: TypedReturnsRows[_T], params: _CoreAnyExecuteParams | None = None
    ) -> ScalarResult[_T]: ...
    @overload
    async def scalars(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None
    ) -> ScalarResult[Any]: ...
    async def scalars(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None
    ) -> ScalarResult[Any]:
        return await self._session.scalars(statement, params)

    async def get(self, entity: type[_O], ident: Any) -> _O | None:
        return await self._session.get(entity, ident)


# What a read path takes: the read-only session, or a write session reading in its transaction.
Readable = AsyncSession | AsyncReadSession


def database_url(settings: Settings) -> str:
    """``DATABASE_URL`` as an asyncpg URL, or an embedded PostgreSQL started for this process."""
    if settings.db.url is not None:
        return to_asyncpg_url(settings.db.url.get_secret_value())
    return start_embedded_postgres(settings.db.data_dir)


# A pooled connection idle longer than this is pinged (one round trip) before it is reused;
# one reused sooner is checked locally only (docs/benchmarks.md, "pool liveness").
POOL_PING_IDLE_S = 5.0


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=settings.db.pool_size,
        max_overflow=settings.db.pool_size,
        pool_timeout=settings.db.pool_timeout_s,
        # Not pool_pre_ping (BEGIN, ping, ROLLBACK: three round trips per checkout):
        # _check_liveness below reconnects a restarted database just as transparently.
        pool_recycle=1800,
        # Errors and logs never carry bound values (a blob, an email, a token hash).
        hide_parameters=True,
        connect_args={
            "timeout": settings.db.connect_timeout_s,
            "command_timeout": 60,
            "server_settings": {"application_name": "cudly", "timezone": "UTC"},
        },
    )
    _check_liveness(engine, timeout_s=settings.db.connect_timeout_s)
    return engine


def _check_liveness(engine: AsyncEngine, *, timeout_s: float) -> None:
    """Hand out only live connections, at no round trip for one that was just in use.

    On checkout: a connection the server closed (a restart, a terminated backend: asyncpg
    sees the socket close) is replaced at once, locally; one idle for
    ``POOL_PING_IDLE_S`` or more is also pinged with an empty simple query (one round trip,
    against a peer that vanished without closing). Either failure raises
    ``DisconnectionError``, on which the pool reconnects and retries, as pre-ping does.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:
            return  # just connected
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")
        if time.monotonic() - idle_since < POOL_PING_IDLE_S:
            return
        try:
            dbapi_connection.run_async(lambda c: c.execute(";", timeout=timeout_s))
        except Exception as exc:
            raise DisconnectionError("the idle connection did not answer") from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transactions are ``READ ONLY`` (wrap one in :class:`AsyncReadSession`)."""
    return async_sessionmaker(
        engine.execution_options(postgresql_readonly=True),
        expire_on_commit=False,
        autoflush=False,
    )


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back on error."""
    async with unit_of_work(request.app.state.sessionmaker) as session:
        yield session


@asynccontextmanager
async def unit_of_work(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction for background work: committed on success, rolled back on error.

    With ``get_session`` the only place that commits. Background work (collection, plan
    execution) opens one per step and never holds it across a cloud call.
    """
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def get_read_session(request: Request) -> AsyncIterator[AsyncReadSession]:
    """A read-only session per request; its transaction is rolled back when the endpoint returns.

    The caller's authentication reads on it too (see :func:`request_read_session`), so a read
    request holds one pooled connection in one transaction; work queued with
    :func:`after_read_session` runs once that connection is back in the pool.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    after: list[Callable[[], Awaitable[None]]] = []
    try:
        async with maker() as session:
            reader = AsyncReadSession(session)
            request.state.read_session = reader
            request.state.after_read_session = after
            try:
                yield reader
            finally:
                request.state.read_session = None
                await session.rollback()
    finally:
        for work in after:
            await work()


def request_read_session(request: Request) -> AsyncReadSession | None:
    """The request's open read session when a dependency solved before this one opened it.

    FastAPI solves an endpoint's dependencies in parameter order: ``session: ReadSessionDep``
    declared before the grant lets authentication share its connection and transaction.
    """
    reader: AsyncReadSession | None = getattr(request.state, "read_session", None)
    return reader


def after_read_session(request: Request, work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` once the request's read session has released its connection (a write
    there would need a second connection while the first is held: a pool deadlock risk)."""
    request.state.after_read_session.append(work)


# scope="function": commit before the response is sent, so a failed commit is the client's error.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncReadSession, Depends(get_read_session, scope="function")]
