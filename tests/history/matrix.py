"""Permission-matrix rows for purchase history."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("GET", "/api/history", Perm("view", "history")),
    ("GET", "/api/history/analytics", Perm("view", "history")),
    ("GET", "/api/history/breakdown", Perm("view", "history")),
]
