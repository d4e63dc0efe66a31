"""Authentication rules: login with throttling, logout, first admin, users, groups, API keys."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.audit import service as audit
from api.auth import repository
from api.auth.passwords import hash_password, verify_password
from api.auth.permissions import Principal
from api.auth.schemas import GroupIn, UserCreate, UserUpdate
from api.auth.tokens import api_key_display_prefix, hash_token, new_api_key, new_session_token
from api.config import Settings
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

INVALID_LOGIN = "invalid email or password"


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


def _buckets(email: str, ip: str | None, settings: Settings) -> list[tuple[str, int]]:
    """Rate-limit keys and their limits; hashed so any input fits and no address is stored.

    One email gets few tries (guessing one password); one IP gets many more, since offices,
    NATs and CI runners put many honest users behind one address.
    """
    buckets = [
        (f"login-email:{hash_token(email.strip().lower())[:40]}", settings.login_max_failures)
    ]
    if ip:
        buckets.append((f"login-ip:{hash_token(ip)[:40]}", settings.login_max_failures_per_ip))
    return buckets


async def login(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    email: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
) -> LoginResult:
    """Check the password and open a session; throttled per email and per IP (429 when over)."""
    window = settings.login_window_s
    buckets = _buckets(email, ip, settings)
    for bucket, limit in buckets:
        current = await ratelimit.peek(session, bucket, window)
        if current.count >= limit:
            raise TooManyRequests(
                "too many failed sign-in attempts; wait and try again", current.retry_after_s
            )
    user = await repository.user_by_email(session, email)
    # Same work, same message for an unknown email and a wrong password: no enumeration.
    valid = await verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        for bucket, _ in buckets:
            await ratelimit.hit(maker, bucket, window)
        raise Unauthorized(INVALID_LOGIN, code="invalid_credentials")
    await ratelimit.reset(maker, buckets[0][0])
    token = new_session_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.token_ttl_s)
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
    return LoginResult(token=token, expires_at=expires_at, user=user)


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
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("a user with this email already exists", code="user_exists") from exc
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
    if not settings.admin_email or settings.admin_password is None:
        return False
    await repository.lock_admin_bootstrap(session)
    if await repository.count_users(session) > 0:
        return False
    user = await _insert_user(
        session, settings.admin_email, settings.admin_password.get_secret_value(), Role.admin, []
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


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
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
    """Change the fields present in ``data``; revokes the user's sessions on password change or deactivation."""
    user = await get_user(session, user_id)
    changed = {name for name in data.model_fields_set if getattr(data, name) is not None}
    if data.email is not None and str(data.email).lower() != user.email.lower():
        if await repository.user_by_email(session, str(data.email)) is not None:
            raise Conflict("a user with this email already exists", code="user_exists")
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
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("a user with this email already exists", code="user_exists") from exc
    if data.role is not None or data.is_active is not None:
        await _ensure_an_admin_remains(session)
    if data.password is not None or data.is_active is False:
        await repository.revoke_user_sessions(session, user.id)
    await audit.record(session, actor, "user.update", "user", user.id, changed)
    return user


async def delete_user(session: AsyncSession, actor: Principal, user_id: uuid.UUID) -> None:
    """Delete a user with their sessions and keys; the last admin cannot be deleted."""
    user = await get_user(session, user_id)
    if user.id == actor.user_id:
        raise Conflict("you cannot delete yourself", code="self_delete")
    await session.delete(user)
    await session.flush()
    await _ensure_an_admin_remains(session)
    await audit.record(session, actor, "user.delete", "user", user_id)


async def create_group(session: AsyncSession, actor: Principal, data: GroupIn) -> Group:
    """Create a group of permissions (admin only)."""
    if await repository.group_by_name(session, data.name) is not None:
        raise Conflict("a group with this name already exists", code="group_exists")
    group = Group(
        name=data.name,
        description=data.description,
        permissions=[p.model_dump(mode="json", exclude_none=True) for p in data.permissions],
    )
    session.add(group)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("a group with this name already exists", code="group_exists") from exc
    await audit.record(
        session, actor, "group.create", "group", group.id, data.model_fields_set | {"name"}
    )
    return group


async def get_group(session: AsyncSession, group_id: uuid.UUID) -> Group:
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
        raise Conflict("a group with this name already exists", code="group_exists")
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
    await session.flush()
    await audit.record(session, actor, "group.update", "group", group.id, changed)
    return group


async def delete_group(session: AsyncSession, actor: Principal, group_id: uuid.UUID) -> None:
    group = await get_group(session, group_id)
    await session.delete(group)
    await session.flush()
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
    session.add(row)
    await session.flush()
    await audit.record(session, actor, "api_key.create", "api_key", row.id, ["name", "expires_at"])
    return row, key


async def list_api_keys(
    session: AsyncSession, actor: Principal, *, all_users: bool
) -> list[ApiKey]:
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
    await session.flush()
    await audit.record(session, actor, "api_key.revoke", "api_key", key.id, ["revoked_at"])
