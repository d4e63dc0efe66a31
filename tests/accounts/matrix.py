"""Permission-matrix rows for cloud accounts."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("GET", "/api/accounts", Perm("view", "accounts")),
    ("POST", "/api/accounts", Perm("create", "accounts")),
    ("GET", "/api/accounts/{account_id}", Perm("view", "accounts")),
    ("PUT", "/api/accounts/{account_id}", Perm("update", "accounts")),
    ("DELETE", "/api/accounts/{account_id}", Perm("delete", "accounts")),
    ("POST", "/api/accounts/discover-org", Perm("discover_org", "accounts", admin_only=True)),
]
