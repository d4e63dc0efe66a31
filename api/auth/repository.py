"""Every auth query: principals from token hashes, users, groups, sessions, API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ScalarSelect,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.permissions import Permission, Principal
from api.db import Readable
from api.enums import Role
from api.kit.locks import xact_lock
from api.models import ApiKey, Group, Session, User, UserGroup

ADMIN_BOOTSTRAP_LOCK = "cudly:setup-admin"
UNIQUE_VIOLATION = "23505"
# An API key's last_used_at is written at most this often (a busy script would otherwise
# turn every read request into a write).
KEY_TOUCH_INTERVAL_S = 60


class DuplicateName(Exception):
    """A unique email or group name is taken (possibly by a concurrent request)."""


def now() -> datetime:
    return datetime.now(UTC)


# The two principal lookups run on every authenticated request: built once, on the Core
# tables (no ORM entity path), with the secret's hash as the one bound parameter.
_SESSIONS = Session.__table__.c
_USERS = User.__table__.c
_KEYS = ApiKey.__table__.c
_GROUPS = Group.__table__.c
_MEMBERS = UserGroup.__table__.c


def _groups_of_user() -> ScalarSelect[Any]:
    """The outer query's user's groups: one JSON array of ``[group id, permissions]``.

    A correlated subquery, so the token, the user and every permission come back in the
    statement that checks the token: one round trip per request, read afresh every time (a
    revoked token, a disabled user or a changed group takes effect on the next request).
    """
    pair = func.jsonb_build_array(_GROUPS.id, _GROUPS.permissions)
    return (
        select(
            func.coalesce(
                func.jsonb_agg(aggregate_order_by(pair, _GROUPS.id)),
                literal_column("'[]'::jsonb"),
                type_=JSONB,
            )
        )
        .select_from(UserGroup.__table__)
        .join(Group.__table__, _GROUPS.id == _MEMBERS.group_id)
        .where(_MEMBERS.user_id == _USERS.id)
        .scalar_subquery()
    )


_PRINCIPAL_FOR_SESSION = (
    select(_SESSIONS.id, _USERS.id, _USERS.email, _USERS.role, _groups_of_user())
    .select_from(Session.__table__)
    .join(User.__table__, _USERS.id == _SESSIONS.user_id)
    .where(
        _SESSIONS.token_hash == bindparam("token_hash"),
        _SESSIONS.revoked_at.is_(None),
        _SESSIONS.expires_at > func.now(),
        _USERS.is_active.is_(True),
    )
)
_PRINCIPAL_FOR_API_KEY = (
    select(
        _KEYS.id,
        or_(
            _KEYS.last_used_at.is_(None),
            _KEYS.last_used_at < func.now() - timedelta(seconds=KEY_TOUCH_INTERVAL_S),
        ),
        _USERS.id,
        _USERS.email,
        _USERS.role,
        _groups_of_user(),
    )
    .select_from(ApiKey.__table__)
    .join(User.__table__, _USERS.id == _KEYS.user_id)
    .where(
        _KEYS.key_hash == bindparam("key_hash"),
        _KEYS.revoked_at.is_(None),
        or_(_KEYS.expires_at.is_(None), _KEYS.expires_at > func.now()),
        _USERS.is_active.is_(True),
    )
)


def _principal(
    user_id: uuid.UUID,
    email: str,
    role: str,
    groups: list[list[Any]],
    *,
    session_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
) -> Principal:
    return Principal(
        user_id=user_id,
        email=email,
        role=Role(role),
        permissions=tuple(Permission.model_validate(p) for _, perms in groups for p in perms),
        session_id=session_id,
        api_key_id=api_key_id,
        group_ids=tuple(uuid.UUID(group_id) for group_id, _ in groups),
    )


async def principal_for_session(
    session: Readable, token_hash: str
) -> tuple[Principal, bool] | None:
    """The principal of a live login token, and ``False`` (nothing to touch)."""
    row = (await session.execute(_PRINCIPAL_FOR_SESSION, {"token_hash": token_hash})).first()
    if row is None:
        return None
    session_id, user_id, email, role, groups = row
    return _principal(user_id, email, role, groups, session_id=session_id), False


async def principal_for_api_key(session: Readable, key_hash: str) -> tuple[Principal, bool] | None:
    """The principal of a live API key, and whether its ``last_used_at`` is due an update."""
    row = (await session.execute(_PRINCIPAL_FOR_API_KEY, {"key_hash": key_hash})).first()
    if row is None:
        return None
    key_id, due, user_id, email, role, groups = row
    return _principal(user_id, email, role, groups, api_key_id=key_id), bool(due)


async def touch_api_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=func.now()))


# --- writes ------------------------------------------------------------------------------


async def save(session: AsyncSession) -> None:
    """Flush pending changes; a taken unique name raises :class:`DuplicateName`."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if (
            getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION
            or "unique" in str(exc.orig).lower()
        ):
            raise DuplicateName from None
        raise


async def add_user(session: AsyncSession, user: User) -> User:
    session.add(user)
    await save(session)
    return user


async def add_group(session: AsyncSession, group: Group) -> Group:
    session.add(group)
    await save(session)
    return group


async def add_api_key(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await save(session)
    return key


async def delete_row(session: AsyncSession, row: User | Group) -> None:
    await session.delete(row)
    await session.flush()


# --- users -------------------------------------------------------------------------------


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (
        await session.execute(select(User).where(func.lower(User.email) == email.lower()))
    ).scalar_one_or_none()


async def get_user(session: Readable, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def list_users(session: Readable) -> list[User]:
    return list((await session.execute(select(User).order_by(User.email, User.id))).scalars())


async def group_ids_by_user(
    session: Readable, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    result: dict[uuid.UUID, list[uuid.UUID]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return result
    rows = await session.execute(
        select(UserGroup.user_id, UserGroup.group_id)
        .where(UserGroup.user_id.in_(user_ids))
        .order_by(UserGroup.group_id)
    )
    for user_id, group_id in rows:
        result[user_id].append(group_id)
    return result


async def set_user_groups(
    session: AsyncSession, user_id: uuid.UUID, group_ids: list[uuid.UUID]
) -> None:
    await session.execute(delete(UserGroup).where(UserGroup.user_id == user_id))
    for group_id in dict.fromkeys(group_ids):
        session.add(UserGroup(user_id=user_id, group_id=group_id))
    await session.flush()


async def count_admins(session: AsyncSession, *, active_only: bool = True) -> int:
    query = select(func.count()).select_from(User).where(User.role == Role.admin.value)
    if active_only:
        query = query.where(User.is_active.is_(True))
    return int((await session.execute(query)).scalar_one())


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def lock_admin_bootstrap(session: AsyncSession) -> None:
    """Serialise first-admin creation across requests, workers and replicas."""
    await xact_lock(session, ADMIN_BOOTSTRAP_LOCK)


async def existing_group_ids(session: AsyncSession, group_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not group_ids:
        return set()
    return set((await session.execute(select(Group.id).where(Group.id.in_(group_ids)))).scalars())


# --- groups ------------------------------------------------------------------------------


async def list_groups(session: Readable) -> list[Group]:
    return list((await session.execute(select(Group).order_by(Group.name, Group.id))).scalars())


async def get_group(session: Readable, group_id: uuid.UUID) -> Group | None:
    return await session.get(Group, group_id)


async def group_by_name(session: AsyncSession, name: str) -> Group | None:
    return (await session.execute(select(Group).where(Group.name == name))).scalar_one_or_none()


# --- sessions and API keys -------------------------------------------------------------


async def add_session(session: AsyncSession, row: Session) -> Session:
    session.add(row)
    await session.flush()
    return row


async def revoke_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(Session)
        .where(Session.id == session_id, Session.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def revoke_user_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(Session)
        .where(Session.user_id == user_id, Session.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def revoke_user_api_keys(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Revoke every live API key of the user; the number revoked."""
    revoked = await session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiKey.id)
    )
    return len(revoked.all())


async def list_api_keys(session: Readable, user_id: uuid.UUID | None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return list((await session.execute(query)).scalars())


async def get_api_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return await session.get(ApiKey, key_id)
