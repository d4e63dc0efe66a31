"""Permission-matrix rows for the commitments inventory."""

from tests.permission_matrix import Perm, Row

ROUTES: list[Row] = [
    ("GET", "/api/commitments", Perm("view", "history")),
]
