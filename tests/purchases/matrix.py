"""Permission-matrix rows for executions."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("POST", "/api/plans/{plan_id}/execute", Perm("execute", "plans")),
    ("GET", "/api/executions", Perm("view", "plans")),
    ("POST", "/api/executions/{execution_id}/retry", Perm("execute", "plans")),
    ("GET", "/api/executions/{group_id}/events", Perm("view", "plans")),
]
ROUTES += [
    ("POST", "/api/executions/{group_id}/approve", Perm("approve", "plans")),
    ("POST", "/api/executions/{group_id}/reject", Perm("approve", "plans")),
]
