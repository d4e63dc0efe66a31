"""Permission-matrix rows for global service defaults, overrides and effective config."""

from tests.permission_matrix import Perm, Row

VIEW = Perm("view", "config")
UPDATE = Perm("update", "config")

ROUTES: list[Row] = [
    ("GET", "/api/config", VIEW),
    ("PUT", "/api/config/service/{provider}/{service}", UPDATE),
    ("GET", "/api/accounts/{account_id}/service-overrides", VIEW),
    ("PUT", "/api/accounts/{account_id}/service-overrides/{provider}/{service}", UPDATE),
    ("DELETE", "/api/accounts/{account_id}/service-overrides/{provider}/{service}", UPDATE),
    ("GET", "/api/accounts/{account_id}/effective-config", VIEW),
]
