"""The one ``account_ids`` query parameter: comma-separated cloud account UUIDs (SPEC §2, §5).

At most :data:`MAX_ACCOUNT_IDS`; a malformed id is a 400 naming it; empty means "no filter"
(``None``). Scope is the caller's business: pass the parsed ids to
``grant.scope.require(ids)`` (403 outside the caller's scope) and filter inside the query.

    async def endpoint(account_ids: AccountIdsFilter = None) -> ...
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query

from api.errors import ValidationFailed

MAX_ACCOUNT_IDS = 200
FIELD = "account_ids"


def parse_account_ids(raw: str | None) -> list[uuid.UUID] | None:
    """The distinct ids in ``raw`` in their given order; ``None`` when nothing is named."""
    if raw is None:
        return None
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        return None
    if len(parts) > MAX_ACCOUNT_IDS:
        raise ValidationFailed.for_field(FIELD, f"at most {MAX_ACCOUNT_IDS} account ids")
    ids: list[uuid.UUID] = []
    for part in parts:
        try:
            ids.append(uuid.UUID(part))
        except ValueError:
            shown = part if len(part) <= 64 else part[:64] + "…"
            raise ValidationFailed.for_field(
                FIELD, f"{shown!r} is not a cloud account id (a UUID)"
            ) from None
    return list(dict.fromkeys(ids))


async def _account_ids(
    account_ids: Annotated[
        str | None,
        Query(
            description=(
                f"Comma-separated cloud account ids (UUIDs, at most {MAX_ACCOUNT_IDS}); "
                "empty = every account you may see"
            ),
            max_length=MAX_ACCOUNT_IDS * 40,
            # Documented, not enforced (the parser names a bad id better than a regex does):
            # generated clients and fuzzers then send what fits the server's request-line limit.
            json_schema_extra={"pattern": r"^[0-9A-Fa-f,\s-]*$"},
        ),
    ] = None,
) -> list[uuid.UUID] | None:
    return parse_account_ids(account_ids)


AccountIdsFilter = Annotated[list[uuid.UUID] | None, Depends(_account_ids)]
