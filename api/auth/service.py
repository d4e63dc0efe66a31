"""Authentication rules: login with throttling, logout, first admin, users, groups, API keys."""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.audit import service as audit
from api.auth import repository
from api.auth.passwords import hash_password, verify_password
from api.auth.permissions import Principal
from api.auth.repository import DuplicateName
from api.auth.schemas import GroupIn, UserCreate, UserOut, UserUpdate
from api.auth.tokens import (
    API_KEY_PREFIX,
    api_key_display_prefix,
    hash_token,
    new_api_key,
    new_session_token,
)
from api.config import Settings
from api.db import AsyncReadSession, Readable, unit_of_work
from api.enums import Role
from api.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from api.kit import ratelimit
from api.models import ApiKey, Group, Session, User

logger = logging.getLogger(__name__)

# One gate per event loop (tests run several loops in one process).
_login_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def _login_step(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[AsyncSession]:
    """A unit of work for sign-in, at most ``db_pool_size`` at once in this process.

    The pool holds twice that (its overflow), so a flood of sign-ins queues here, costing
    no connection, while every other request still finds one.
    """
    loop = asyncio.get_running_loop()
    gate = _login_gates.get(loop)
    if gate is None:
        gate = _login_gates[loop] = asyncio.Semaphore(settings.db.pool_size)
    async with gate, unit_of_work(maker) as session:
        yield session


INVALID_LOGIN = "invalid email or password"
INVALID_CREDENTIALS = "invalid or expired credentials"
USER_EXISTS = "a user with this email already exists"
GROUP_EXISTS = "a group with this name already exists"


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: UserOut


def to_user_out(user: User, group_ids: list[uuid.UUID]) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        role=Role(user.role),
        is_active=user.is_active,
        group_ids=group_ids,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def user_out(session: Readable, user: User) -> UserOut:
    """The user as the API shows it, with their group ids."""
    groups = await repository.group_ids_by_user(session, [user.id])
    return to_user_out(user, groups[user.id])


async def list_users(session: Readable) -> list[UserOut]:
    """Every user, by email, with their group ids."""
    users = await repository.list_users(session)
    groups = await repository.group_ids_by_user(session, [u.id for u in users])
    return [to_user_out(u, groups[u.id]) for u in users]


async def list_groups(session: Readable) -> list[Group]:
    """Every group, by name."""
    return await repository.list_groups(session)


def _digest(text: str) -> str:
    return hash_token(text)[:40]


def login_limits(email: str, ip: str | None, settings: Settings) -> list[ratelimit.Limit]:
    """The buckets one sign-in attempt counts in; hashed, so no address or email is stored.

    Tightest first: one (email, client IP) pair gets few tries (guessing one password from
    one place); the email alone gets many more, with backoff, so an attacker's address can
    slow but never lock out the user signing in from elsewhere; one IP gets many, since
    offices, NATs and CI runners put many honest users behind one address.
    """
    window = settings.auth.login_window_s
    who = email.strip().lower()
    pair = _digest(f"{who} {ip or '-'}")
    limits = [
        ratelimit.Limit(f"login-email-ip:{pair}", settings.auth.login_max_failures, window),
        ratelimit.Limit(
            f"login-email:{_digest(who)}",
            settings.auth.login_max_failures_per_email,
            window,
            backoff=True,
        ),
    ]
    if ip:
        limits.append(
            ratelimit.Limit(
                f"login-ip:{_digest(ip)}", settings.auth.login_max_failures_per_ip, window
            )
        )
    return limits


async def login(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    email: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> LoginResult:
    """Check the password and open a session; throttled per (email, IP), email and IP (429).

    The attempt is counted *before* the password is checked, in one atomic statement per
    bucket, so concurrent guesses cannot all slip under the limit; a success gives its
    count back. No database connection is held while Argon2 runs: a burst of logins
    costs CPU, never the pool other requests need.
    """
    limits = login_limits(email, ip, settings)
    async with _login_step(maker, settings) as session:
        # The count commits with its statement: one IP's bucket is shared by every attempt
        # from it, and its row must never stay locked across a round trip.
        await ratelimit.use_autocommit(session)
        user = await repository.user_by_email(session, email)
        blocked = await ratelimit.consume(session, limits)
        if blocked is not None:
            raise TooManyRequests(
                "too many failed sign-in attempts; wait and try again", blocked.retry_after_s
            )
    # Same work, same message for an unknown email and a wrong password: no enumeration.
    valid = await verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        raise Unauthorized(INVALID_LOGIN, code="invalid_credentials")
    token = new_session_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.auth.token_ttl_s)
    async with _login_step(maker, settings) as session:
        await ratelimit.refund(session, limits[1:])
        await ratelimit.reset(session, limits[0].bucket)
        await repository.add_session(
            session,
            Session(
                user_id=user.id,
                token_hash=hash_token(token),
                expires_at=expires_at,
                ip=ip,
                user_agent=(user_agent or "")[:512] or None,
            ),
        )
        shown = await user_out(session, user)
    return LoginResult(token=token, expires_at=expires_at, user=shown)


async def resolve_principal(
    read_maker: async_sessionmaker[AsyncSession],
    secret: str,
    *,
    api_key_only: bool,
    reader: AsyncReadSession | None = None,
) -> tuple[Principal, bool]:
    """The caller behind a login token or API key; 401 when it is unknown, expired or revoked.

    One statement (token, user and every group's permissions), read afresh on each request:
    on ``reader``, the request's own read session, when the endpoint has one, else on a short
    read session released before the endpoint runs — a request holds one pooled connection
    at a time. Also says whether the API key's ``last_used_at`` is due (:func:`touch_api_key`,
    at most once a minute, in a transaction of its own).
    """
    if len(secret) > 256:
        raise Unauthorized(INVALID_CREDENTIALS)
    is_key = secret.startswith(API_KEY_PREFIX)
    if api_key_only and not is_key:
        raise Unauthorized("X-API-Key accepts API keys only: send a login token as a Bearer token")
    digest = hash_token(secret)
    lookup = repository.principal_for_api_key if is_key else repository.principal_for_session
    if reader is not None:
        found = await lookup(reader, digest)
    else:
        async with read_maker() as session:
            found = await lookup(AsyncReadSession(session), digest)
            await session.rollback()
    if found is None:
        raise Unauthorized(INVALID_CREDENTIALS)
    principal, stale = found
    return principal, stale and principal.api_key_id is not None


async def touch_api_key(maker: async_sessionmaker[AsyncSession], key_id: uuid.UUID) -> None:
    """Record that the API key was just used (``last_used_at``)."""
    async with unit_of_work(maker) as session:
        await repository.touch_api_key(session, key_id)


async def logout(session: AsyncSession, principal: Principal) -> None:
    """Revoke the session the request came with (an API key is revoked through its own endpoint)."""
    if principal.session_id is not None:
        await repository.revoke_session(session, principal.session_id)


async def _require_groups(session: AsyncSession, group_ids: list[uuid.UUID]) -> None:
    missing = set(group_ids) - await repository.existing_group_ids(session, group_ids)
    if missing:
        raise ValidationFailed.for_field(
            "group_ids", f"unknown group ids: {sorted(str(g) for g in missing)}"
        )


async def _insert_user(
    session: AsyncSession, email: str, password: str, role: Role, group_ids: list[uuid.UUID]
) -> User:
    await _require_groups(session, group_ids)
    if await repository.user_by_email(session, email) is not None:
        raise Conflict("a user with this email already exists", code="user_exists")
    user = User(email=email, password_hash=await hash_password(password), role=role.value)
    try:
        await repository.add_user(session, user)
    except DuplicateName:
        raise Conflict(USER_EXISTS, code="user_exists") from None
    await repository.set_user_groups(session, user.id, group_ids)
    return user


async def setup_admin(session: AsyncSession, email: str, password: str) -> User:
    """Create the first admin; 409 once any admin exists. Concurrent calls yield exactly one."""
    await repository.lock_admin_bootstrap(session)
    if await repository.count_admins(session, active_only=False) > 0:
        raise Conflict("an admin already exists: sign in instead", code="admin_exists")
    user = await _insert_user(session, email, password, Role.admin, [])
    await audit.record(session, None, "user.create", "user", user.id, ["email", "role", "password"])
    return user


async def bootstrap_admin_from_settings(session: AsyncSession, settings: Settings) -> bool:
    """On start: create the admin from CUDLY_ADMIN_EMAIL/PASSWORD when no user exists yet."""
    if not settings.auth.admin_email or settings.auth.admin_password is None:
        return False
    await repository.lock_admin_bootstrap(session)
    if await repository.count_users(session) > 0:
        return False
    user = await _insert_user(
        session,
        settings.auth.admin_email,
        settings.auth.admin_password.get_secret_value(),
        Role.admin,
        [],
    )
    await audit.record(session, None, "user.create", "user", user.id, ["email", "role", "password"])
    logger.info("first admin created from CUDLY_ADMIN_EMAIL", extra={"user_id": str(user.id)})
    return True


async def create_user(session: AsyncSession, actor: Principal | None, data: UserCreate) -> User:
    """Create a user (admin only); the password is hashed with Argon2id."""
    user = await _insert_user(
        session, str(data.email), data.password.get_secret_value(), data.role, data.group_ids
    )
    await audit.record(
        session, actor, "user.create", "user", user.id, data.model_fields_set | {"email", "role"}
    )
    return user


async def get_user(session: Readable, user_id: uuid.UUID) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise NotFound("user not found", code="user_not_found")
    return user


async def _ensure_an_admin_remains(session: AsyncSession) -> None:
    if await repository.count_admins(session) == 0:
        raise Conflict("this would leave no active admin", code="last_admin")


async def update_user(
    session: AsyncSession, actor: Principal, user_id: uuid.UUID, data: UserUpdate
) -> User:
    """Change the fields present in ``data``; revokes the user's sessions on password change or deactivation.

    ``revoke_api_keys`` also revokes every API key of the user (a password reset after a
    leak); otherwise keys survive a password change.
    """
    user = await get_user(session, user_id)
    changed = {
        name
        for name in data.model_fields_set - {"revoke_api_keys"}
        if getattr(data, name) is not None
    }
    if data.email is not None and str(data.email).lower() != user.email.lower():
        if await repository.user_by_email(session, str(data.email)) is not None:
            raise Conflict(USER_EXISTS, code="user_exists")
        user.email = str(data.email)
    if data.password is not None:
        user.password_hash = await hash_password(data.password.get_secret_value())
    if data.role is not None:
        user.role = data.role.value
    if data.is_active is not None:
        user.is_active = data.is_active
    if data.group_ids is not None:
        await _require_groups(session, data.group_ids)
        await repository.set_user_groups(session, user.id, data.group_ids)
    try:
        await repository.save(session)
    except DuplicateName:
        raise Conflict(USER_EXISTS, code="user_exists") from None
    if data.role is not None or data.is_active is not None:
        await _ensure_an_admin_remains(session)
    if data.password is not None or data.is_active is False:
        await repository.revoke_user_sessions(session, user.id)
    if data.revoke_api_keys and await repository.revoke_user_api_keys(session, user.id):
        changed.add("api_keys")
    await audit.record(session, actor, "user.update", "user", user.id, changed)
    return user


async def delete_user(session: AsyncSession, actor: Principal, user_id: uuid.UUID) -> None:
    """Delete a user with their sessions and keys; the last admin cannot be deleted."""
    user = await get_user(session, user_id)
    if user.id == actor.user_id:
        raise Conflict("you cannot delete yourself", code="self_delete")
    await repository.delete_row(session, user)
    await _ensure_an_admin_remains(session)
    await audit.record(session, actor, "user.delete", "user", user_id)


async def create_group(session: AsyncSession, actor: Principal, data: GroupIn) -> Group:
    """Create a group of permissions (admin only)."""
    if await repository.group_by_name(session, data.name) is not None:
        raise Conflict(GROUP_EXISTS, code="group_exists")
    group = Group(
        name=data.name,
        description=data.description,
        permissions=[p.model_dump(mode="json", exclude_none=True) for p in data.permissions],
    )
    try:
        await repository.add_group(session, group)
    except DuplicateName:
        raise Conflict(GROUP_EXISTS, code="group_exists") from None
    await audit.record(
        session, actor, "group.create", "group", group.id, data.model_fields_set | {"name"}
    )
    return group


async def get_group(session: Readable, group_id: uuid.UUID) -> Group:
    group = await repository.get_group(session, group_id)
    if group is None:
        raise NotFound("group not found", code="group_not_found")
    return group


async def update_group(
    session: AsyncSession, actor: Principal, group_id: uuid.UUID, data: GroupIn
) -> Group:
    """Replace a group's name, description and permissions."""
    group = await get_group(session, group_id)
    other = await repository.group_by_name(session, data.name)
    if other is not None and other.id != group.id:
        raise Conflict(GROUP_EXISTS, code="group_exists")
    new_permissions = [p.model_dump(mode="json", exclude_none=True) for p in data.permissions]
    changed = [
        name
        for name, old, new in (
            ("name", group.name, data.name),
            ("description", group.description, data.description),
            ("permissions", group.permissions, new_permissions),
        )
        if old != new
    ]
    group.name, group.description, group.permissions = data.name, data.description, new_permissions
    try:
        await repository.save(session)
    except DuplicateName:
        raise Conflict(GROUP_EXISTS, code="group_exists") from None
    await audit.record(session, actor, "group.update", "group", group.id, changed)
    return group


async def delete_group(session: AsyncSession, actor: Principal, group_id: uuid.UUID) -> None:
    group = await get_group(session, group_id)
    await repository.delete_row(session, group)
    await audit.record(session, actor, "group.delete", "group", group_id)


async def create_api_key(
    session: AsyncSession, actor: Principal, name: str, expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """A new key for the caller; returns the row and the key, which is never retrievable again."""
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed.for_field("expires_at", "must be in the future")
    if actor.api_key_id is not None:
        raise Forbidden(
            "API keys cannot create API keys: sign in to create one", code="api_key_forbidden"
        )
    key = new_api_key()
    row = ApiKey(
        user_id=actor.user_id,
        name=name,
        prefix=api_key_display_prefix(key),
        key_hash=hash_token(key),
        expires_at=expires_at,
    )
    await repository.add_api_key(session, row)
    await audit.record(session, actor, "api_key.create", "api_key", row.id, ["name", "expires_at"])
    return row, key


async def list_api_keys(session: Readable, actor: Principal, *, all_users: bool) -> list[ApiKey]:
    if all_users and not actor.is_admin:
        raise Forbidden("listing every user's keys needs the admin role", code="admin_required")
    return await repository.list_api_keys(session, None if all_users else actor.user_id)


async def revoke_api_key(session: AsyncSession, actor: Principal, key_id: uuid.UUID) -> None:
    """Revoke one of the caller's keys (admins may revoke anyone's). Unknown or foreign → 404."""
    key = await repository.get_api_key(session, key_id)
    if key is None or (key.user_id != actor.user_id and not actor.is_admin):
        raise NotFound("API key not found", code="api_key_not_found")
    if key.revoked_at is not None:
        return  # idempotent: revoking twice is not an error
    key.revoked_at = datetime.now(UTC)
    await repository.save(session)
    await audit.record(session, actor, "api_key.revoke", "api_key", key.id, ["revoked_at"])
