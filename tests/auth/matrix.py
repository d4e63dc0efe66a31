"""Permission-matrix rows for auth, users, groups, API keys, audit and health."""

from tests.permission_matrix import PUBLIC, Row

ROUTES: list[Row] = [
    ("GET", "/api/health", PUBLIC),
]
