"""Permission-matrix rows for credentials and the connectivity test."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("POST", "/api/accounts/{account_id}/credentials", Perm("manage_credentials", "accounts")),
    ("POST", "/api/accounts/{account_id}/test", Perm("test_credentials", "accounts")),
]
