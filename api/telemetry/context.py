"""Log context for background work: the ids of the run or execution, account and provider.

A collection or execution task binds its ids once; every log line written inside it —
including lines from helpers deep in ``providers/`` that know nothing about runs — carries
them, because they live in contextvars (copied into each asyncio task at creation)::

    with bind(run_id=run.id, cloud_account_id=account.id, provider=account.provider):
        ...

:class:`LogContextFilter` (installed on the one log handler by ``api.logging``) copies the
bound values onto each record, where the JSON and text formatters render them as fields.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

FIELDS = ("run_id", "execution_id", "cloud_account_id", "provider")

_vars: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"cudly_{name}", default=None) for name in FIELDS
}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(getattr(value, "value", value))  # enums render as their value


@contextmanager
def bind(
    *,
    run_id: object = None,
    execution_id: object = None,
    cloud_account_id: object = None,
    provider: object = None,
) -> Iterator[None]:
    """Bind the given ids for the duration of the block (``None`` leaves a field as it was)."""
    given = {
        "run_id": run_id,
        "execution_id": execution_id,
        "cloud_account_id": cloud_account_id,
        "provider": provider,
    }
    tokens = [
        (_vars[name], _vars[name].set(_text(value)))
        for name, value in given.items()
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_field(name: str, value: object) -> None:
    """Bind one id for the rest of the current task (see ``tracing.annotate``)."""
    _vars[name].set(_text(value))


def current() -> dict[str, str]:
    """The ids bound here (only those that are set)."""
    values = {name: var.get() for name, var in _vars.items()}
    return {name: value for name, value in values.items() if value is not None}


class LogContextFilter(logging.Filter):
    """Puts the bound ids on every record, so each formatter renders them as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):  # an explicit ``extra=`` wins
                setattr(record, name, value)
        return True
