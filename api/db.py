"""Engine and session factories; ``get_session`` is the one place a request commits.

Services ``flush()`` when they need ids and never commit. Read-only endpoints take
``AsyncReadSession`` so the type checker shows which code may write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api.config import Settings


class AsyncReadSession(AsyncSession):
    """A session used for reads only; never committed (its transaction is rolled back)."""


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
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


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncReadSession]:
    return async_sessionmaker(
        engine, class_=AsyncReadSession, expire_on_commit=False, autoflush=False
    )


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back on error."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


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
    maker: async_sessionmaker[AsyncReadSession] = request.app.state.read_sessionmaker
    async with maker() as session:
        try:
            yield session
        finally:
            await session.rollback()


# scope="function": commit before the response is sent, so a failed commit is the client's error.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncReadSession, Depends(get_read_session, scope="function")]
