"""Every CHECK constraint in the migrated database accepts exactly its enum's values.

Alembic's autogenerate ignores CHECK constraints, so a migration that spells a value list by
hand can drift from ``api/enums.py`` unseen. The expected lists come from the models'
``check_in()`` / ``check_values()`` calls (each constraint records its column and enum); the
actual ones from ``pg_constraint`` on a database migrated by Alembic.
"""

from __future__ import annotations

import enum
import re
from typing import Any, get_args

import asyncpg

from api.enums import Term
from api.models import Base
from api.service_config.schemas import Term as TermField

# An IN list as PostgreSQL prints it: ``(provider = ANY (ARRAY['aws'::text, 'gcp'::text]))``.
_IN_LIST = re.compile(
    r"^CHECK \(+\(?(\w+)\)?(?:::\w+)? = ANY \(+ARRAY\[(.*)\]\)?(?:::\w+\[\])?\)+$"
)
_ITEM = re.compile(r"'((?:[^']|'')*)'(?:::[\w ]+)?|(-?\d+)")


def _values(array_body: str) -> list[str | int]:
    found: list[str | int] = []
    for match in _ITEM.finditer(array_body):
        text, number = match.groups()
        found.append(text.replace("''", "'") if text is not None else int(number))
    return found


def _expected() -> dict[tuple[str, str], tuple[str, list[str | int]]]:
    """(table, constraint name) → (column, allowed values), from the models."""
    expected: dict[tuple[str, str], tuple[str, list[str | int]]] = {}
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            info: dict[str, Any] = constraint.info
            if "column" not in info:
                continue
            source = info.get("enum")
            if isinstance(source, type) and issubclass(source, enum.Enum):
                allowed: list[str | int] = [member.value for member in source]
            else:
                allowed = list(info["values"])
            expected[(table.name, str(constraint.name))] = (
                info["column"],
                allowed,
            )
    return expected


async def _actual(dsn: str) -> dict[tuple[str, str], str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            """
            SELECT c.conrelid::regclass::text AS table_name, c.conname,
                   pg_get_constraintdef(c.oid) AS definition
            FROM pg_constraint c
            WHERE c.contype = 'c' AND c.connamespace = 'public'::regnamespace
            """
        )
    finally:
        await connection.close()
    return {(row["table_name"], row["conname"]): row["definition"] for row in rows}


async def test_every_enum_check_matches_its_enum(database_url: str) -> None:
    actual = await _actual(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    expected = _expected()
    assert expected, "no check_in() constraints found in the models"
    problems: list[str] = []
    for key, (column, allowed) in sorted(expected.items()):
        definition = actual.get(key)
        if definition is None:
            problems.append(f"{key}: declared by the models, missing in the database")
            continue
        match = _IN_LIST.match(definition)
        if match is None:
            problems.append(f"{key}: not an IN list in the database: {definition}")
            continue
        if match.group(1) != column or sorted(map(str, _values(match.group(2)))) != sorted(
            map(str, allowed)
        ):
            problems.append(f"{key}: database {definition} != models {column} IN {allowed}")
    # An IN-list CHECK that no model declares is a value list spelled only in a migration.
    for key, definition in sorted(actual.items()):
        if key not in expected and _IN_LIST.match(definition):
            problems.append(f"{key}: {definition} has no check_in()/check_values() in the models")
    assert not problems, "\n".join(problems)


def test_the_term_field_accepts_exactly_the_term_enum() -> None:
    literal = get_args(TermField)[0]
    assert sorted(get_args(literal)) == sorted(member.value for member in Term)
