"""Permission-matrix rows for the dashboard."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("GET", "/api/dashboard/summary", Perm("view", "history")),
    ("GET", "/api/dashboard/upcoming", Perm("view", "history")),
    ("GET", "/api/dashboard/savings-over-time", Perm("view", "history")),
]
