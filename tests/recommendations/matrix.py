"""Permission-matrix rows for recommendations."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("GET", "/api/recommendations", Perm("view", "recommendations")),
    ("GET", "/api/recommendations/freshness", Perm("view", "recommendations")),
    ("POST", "/api/recommendations/refresh", Perm("refresh", "recommendations")),
]
