"""Every auth query: principals from token hashes, users, groups, sessions, API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import Permission, Principal
from api.enums import Role
from api.models import ApiKey, Group, Session, User, UserGroup


def now() -> datetime:
    return datetime.now(UTC)


async def _principal(
    session: AsyncSession,
    user: User,
    *,
    session_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
) -> Principal:
    rows = (
        await session.execute(
            select(Group.id, Group.permissions)
            .join(UserGroup, UserGroup.group_id == Group.id)
            .where(UserGroup.user_id == user.id)
        )
    ).all()
    permissions = tuple(Permission.model_validate(p) for _, perms in rows for p in perms)
    return Principal(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        permissions=permissions,
        session_id=session_id,
        api_key_id=api_key_id,
        group_ids=tuple(group_id for group_id, _ in rows),
    )


async def principal_for_session(session: AsyncSession, token_hash: str) -> Principal | None:
    row = (
        await session.execute(
            select(Session.id, User)
            .join(User, User.id == Session.user_id)
            .where(
                Session.token_hash == token_hash,
                Session.revoked_at.is_(None),
                Session.expires_at > func.now(),
                User.is_active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    session_id, user = row
    return await _principal(session, user, session_id=session_id)


async def principal_for_api_key(session: AsyncSession, key_hash: str) -> Principal | None:
    row = (
        await session.execute(
            select(ApiKey.id, User)
            .join(User, User.id == ApiKey.user_id)
            .where(
                ApiKey.key_hash == key_hash,
                ApiKey.revoked_at.is_(None),
                or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
                User.is_active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    key_id, user = row
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=func.now()))
    return await _principal(session, user, api_key_id=key_id)
