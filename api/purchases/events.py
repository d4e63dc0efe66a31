"""The seam a notifier subscribes to: one event per execution state change.

Events carry ids, statuses and money totals only — never an approval, session or API-key
token, and never credentials — so they are safe to broadcast. Delivery is in-process and
best effort: a subscriber's exception is logged (by type) and never affects the execution.

    unsubscribe = events.subscribe(my_async_callback)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionEvent:
    name: str  # "execution.awaiting_approval" | "execution.approved" | "execution.rejected" | …
    execution_group_id: uuid.UUID
    execution_ids: tuple[uuid.UUID, ...]
    status: str
    actor_id: uuid.UUID | None = None
    totals: dict[str, dict[str, str]] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Subscriber = Callable[[ExecutionEvent], Awaitable[None]]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Receive every event from now on; returns the function that unsubscribes."""
    _subscribers.append(subscriber)

    def unsubscribe() -> None:
        if subscriber in _subscribers:
            _subscribers.remove(subscriber)

    return unsubscribe


async def publish(event: ExecutionEvent) -> None:
    """Deliver to every subscriber (after the change was committed)."""
    for subscriber in list(_subscribers):
        try:
            await subscriber(event)
        except Exception as exc:
            logger.error(
                "execution event subscriber failed",
                extra={"event": event.name, "error_type": type(exc).__name__},
            )
