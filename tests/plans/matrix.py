"""Permission-matrix rows for plans and their target accounts."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("GET", "/api/plans", Perm("view", "plans")),
    ("POST", "/api/plans", Perm("create", "plans")),
    ("GET", "/api/plans/{plan_id}", Perm("view", "plans")),
    ("PUT", "/api/plans/{plan_id}", Perm("update", "plans")),
    ("DELETE", "/api/plans/{plan_id}", Perm("delete", "plans")),
    ("GET", "/api/plans/{plan_id}/accounts", Perm("view", "plans")),
    ("PUT", "/api/plans/{plan_id}/accounts", Perm("update", "plans")),
]
