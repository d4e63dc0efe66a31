"""Auth, users, groups and API key schemas. Secrets are input-only (never in a Read schema)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr, field_validator

from api.auth.permissions import Permission
from api.enums import Role
from api.kit.types import IsoDateTime, check_name

PASSWORD_MIN = 10
PASSWORD_MAX = 256


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginIn(StrictIn):
    email: str = Field(min_length=3, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=PASSWORD_MAX)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    is_active: bool
    group_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut


class MeOut(UserOut):
    permissions: list[Permission]
    via_api_key: bool


class SetupAdminIn(StrictIn):
    email: EmailStr = Field(max_length=320)
    password: SecretStr = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class UserCreate(StrictIn):
    email: EmailStr = Field(max_length=320)
    password: SecretStr = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    role: Role = Role.user
    group_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class UserUpdate(StrictIn):
    """Fields present are changed; absent ones are kept."""

    email: EmailStr | None = Field(default=None, max_length=320)
    password: SecretStr | None = Field(
        default=None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX
    )
    role: Role | None = None
    is_active: bool | None = None
    group_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    revoke_api_keys: bool = Field(
        default=False,
        description="Also revoke every API key of the user (keys survive a password reset otherwise)",
    )


class UserList(BaseModel):
    users: list[UserOut]


class GroupIn(StrictIn):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    permissions: list[Permission] = Field(default_factory=list, max_length=200)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return check_name(value, "name")


class GroupOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    permissions: list[Permission]
    created_at: datetime
    updated_at: datetime


class GroupList(BaseModel):
    groups: list[GroupOut]


class ApiKeyCreate(StrictIn):
    name: str = Field(min_length=1, max_length=255)

    @field_validator("name")
    @classmethod
    def _visible(cls, value: str) -> str:
        return check_name(value, "name")

    expires_at: IsoDateTime | None = None

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a timezone, e.g. 2027-01-01T00:00:00Z")
        return value


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    user_id: uuid.UUID
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown once, store it now")


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]
