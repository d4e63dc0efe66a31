"""Permission-matrix rows for collection runs."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("GET", "/api/collection-runs", Perm("view", "recommendations")),
    ("GET", "/api/collection-runs/{run_id}", Perm("view", "recommendations")),
    ("GET", "/api/collection-runs/{run_id}/events", Perm("view", "recommendations")),
]
