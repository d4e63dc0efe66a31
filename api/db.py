"""Engine and session factories; ``get_session`` is the one place a request commits.

Services ``flush()`` when they need ids and never commit. Read-only endpoints take
``AsyncReadSession`` so the type checker shows which code may write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar, TypeVarTuple, overload

from fastapi import Depends, Request
from sqlalchemy import Executable, Result, ScalarResult, text
from sqlalchemy.engine.interfaces import _CoreAnyExecuteParams
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
    if settings.database_url is not None:
        return to_asyncpg_url(settings.database_url.get_secret_value())
    return start_embedded_postgres(settings.data_dir)


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=True,  # a restarted database is reconnected transparently
        pool_recycle=1800,
        # Errors and logs never carry bound values (a blob, an email, a token hash).
        hide_parameters=True,
        connect_args={
            "timeout": settings.db_connect_timeout_s,
            "command_timeout": 60,
            "server_settings": {"application_name": "cudly", "timezone": "UTC"},
        },
    )


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
    """A read-only session per request; its transaction is rolled back when the endpoint returns."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    async with maker() as session:
        try:
            yield AsyncReadSession(session)
        finally:
            await session.rollback()


# scope="function": commit before the response is sent, so a failed commit is the client's error.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncReadSession, Depends(get_read_session, scope="function")]
