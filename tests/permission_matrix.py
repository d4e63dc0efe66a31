"""The permission matrix: every API route and what it requires. A route missing here fails a test.

Each domain keeps its rows in ``tests/<domain>/matrix.py`` as ``ROUTES`` and is listed in
``MODULES`` below. A row is ``(METHOD, path template as FastAPI declares it, rule)``:
- ``Perm(action, resource)``: a user without it gets 403; a user with it (unconstrained) does not;
- ``ADMIN``: admin only, even a user holding every permission gets 403;
- ``AUTHENTICATED``: any signed-in user; ``PUBLIC``: no authentication at all.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Perm:
    action: str
    resource: str
    admin_only: bool = False  # e.g. accounts:discover_org also needs the admin role


ADMIN = "admin"
AUTHENTICATED = "authenticated"
PUBLIC = "public"

Rule = Perm | str
Row = tuple[str, str, Rule]

MODULES = [
    "tests.auth.matrix",
    "tests.accounts.matrix",
    "tests.credentials.matrix",
    "tests.service_config.matrix",
    "tests.collection.matrix",
    "tests.recommendations.matrix",
    "tests.commitments.matrix",
    "tests.plans.matrix",
    "tests.purchases.matrix",
    "tests.history.matrix",
    "tests.dashboard.matrix",
    "tests.telemetry.matrix",
]


def all_rows() -> list[Row]:
    rows: list[Row] = []
    for name in MODULES:
        try:
            module: Any = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        rows.extend(module.ROUTES)
    return rows
