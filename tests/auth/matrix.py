"""Permission-matrix rows for auth, users, groups, API keys, audit and health."""

from tests.permission_matrix import ADMIN, AUTHENTICATED, PUBLIC, Row

ROUTES: list[Row] = [
    ("GET", "/api/health", PUBLIC),
    ("POST", "/api/auth/login", PUBLIC),
    ("POST", "/api/auth/setup-admin", PUBLIC),
    ("POST", "/api/auth/logout", AUTHENTICATED),
    ("GET", "/api/auth/me", AUTHENTICATED),
    ("GET", "/api/users", ADMIN),
    ("POST", "/api/users", ADMIN),
    ("GET", "/api/users/{user_id}", ADMIN),
    ("PUT", "/api/users/{user_id}", ADMIN),
    ("DELETE", "/api/users/{user_id}", ADMIN),
    ("GET", "/api/groups", ADMIN),
    ("POST", "/api/groups", ADMIN),
    ("GET", "/api/groups/{group_id}", ADMIN),
    ("PUT", "/api/groups/{group_id}", ADMIN),
    ("DELETE", "/api/groups/{group_id}", ADMIN),
    ("GET", "/api/api-keys", AUTHENTICATED),
    ("POST", "/api/api-keys", AUTHENTICATED),
    ("DELETE", "/api/api-keys/{key_id}", AUTHENTICATED),
    ("GET", "/api/audit", ADMIN),
]
