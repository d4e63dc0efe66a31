"""Declarative base, constraint naming convention and column helpers shared by every table."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, MetaData, Numeric, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Money columns: Decimal in Python, never a float (STYLE habit 9).
MONEY = Numeric(18, 6)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def updated_at_column() -> Mapped[datetime]:
    """Maintained by the ``set_updated_at`` trigger the migrations install on each table."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def check_in(
    column: str, enum_type: type[enum.StrEnum] | type[enum.IntEnum], name: str | None = None
) -> CheckConstraint:
    """A CHECK constraint accepting exactly the enum's values (NULL passes, as in SQL).

    The constraint remembers its column and enum (``info``), so a test can compare every
    CHECK in the migrated database with the enum it comes from.
    """
    allowed = ", ".join(
        str(member.value) if isinstance(member, enum.IntEnum) else f"'{member.value}'"
        for member in enum_type
    )
    return CheckConstraint(
        f"{column} IN ({allowed})",
        name=name or f"{column}_valid",
        info={"column": column, "enum": enum_type},
    )


def check_values(
    column: str, allowed_values: tuple[str, ...] | list[str], name: str
) -> CheckConstraint:
    """A CHECK constraint accepting exactly ``allowed_values`` (a list that is not an enum)."""
    allowed = ", ".join(f"'{value}'" for value in allowed_values)
    return CheckConstraint(
        f"{column} IN ({allowed})",
        name=name,
        info={"column": column, "values": tuple(allowed_values)},
    )
