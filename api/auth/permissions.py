"""Permissions, the principal making a request, and account scoping (SPEC §2).

A permission grants ``action`` on ``resource``, optionally limited to cloud accounts by UUID.
Scoping fails closed: a constraint with no accounts, or only unknown ones, grants nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import InstrumentedAttribute

from api.enums import RESOURCE_ACTIONS, Action, Resource, Role
from api.errors import Forbidden

MAX_CONSTRAINT_ACCOUNTS = 1000


class PermissionConstraints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_CONSTRAINT_ACCOUNTS)


class Permission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    resource: Resource
    constraints: PermissionConstraints | None = None

    @model_validator(mode="after")
    def _action_exists_on_resource(self) -> Permission:
        allowed = RESOURCE_ACTIONS.get(self.resource)
        if allowed is None:
            raise ValueError(f"resource {self.resource.value!r} is admin only")
        if self.action not in allowed:
            raise ValueError(
                f"action {self.action.value!r} does not exist on {self.resource.value!r}; "
                f"use one of {sorted(a.value for a in allowed)}"
            )
        return self


@dataclass(frozen=True)
class AccountScope:
    """Which cloud accounts a grant reaches: all of them, or exactly ``account_ids``."""

    unrestricted: bool
    account_ids: frozenset[uuid.UUID] = frozenset()

    @classmethod
    def everything(cls) -> AccountScope:
        return cls(unrestricted=True)

    def allows(self, account_id: uuid.UUID) -> bool:
        return self.unrestricted or account_id in self.account_ids

    def where(
        self, column: InstrumentedAttribute[uuid.UUID] | InstrumentedAttribute[uuid.UUID | None]
    ) -> ColumnElement[bool]:
        """A WHERE clause limiting ``column`` (a cloud account id) to this scope."""
        if self.unrestricted:
            return true()
        if not self.account_ids:
            return false()
        return column.in_(sorted(self.account_ids))

    def require(self, account_ids: Iterable[uuid.UUID]) -> None:
        """403 when any named account is outside the scope (SPEC §2)."""
        if self.unrestricted:
            return
        outside = [a for a in account_ids if a not in self.account_ids]
        if outside:
            raise Forbidden(
                "your permissions do not cover this cloud account",
                code="account_out_of_scope",
            )


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a login session or one of their API keys."""

    user_id: uuid.UUID
    email: str
    role: Role
    permissions: tuple[Permission, ...] = ()
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    group_ids: tuple[uuid.UUID, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def can(self, action: Action, resource: Resource) -> bool:
        return self.is_admin or any(
            p.action == action and p.resource == resource for p in self.permissions
        )

    def scope(self, action: Action, resource: Resource) -> AccountScope:
        """The accounts this principal may touch with ``action`` on ``resource``."""
        if self.is_admin:
            return AccountScope.everything()
        matching = [p for p in self.permissions if p.action == action and p.resource == resource]
        if any(p.constraints is None for p in matching):
            return AccountScope.everything()
        ids: set[uuid.UUID] = set()
        for permission in matching:
            assert permission.constraints is not None
            ids.update(permission.constraints.accounts)
        return AccountScope(unrestricted=False, account_ids=frozenset(ids))
