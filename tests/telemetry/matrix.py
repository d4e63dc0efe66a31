"""Permission-matrix rows for readiness and the Prometheus scrape."""

from tests.permission_matrix import ADMIN, PUBLIC, Row

ROUTES: list[Row] = [
    ("GET", "/api/ready", PUBLIC),
    ("GET", "/metrics", ADMIN),
]
