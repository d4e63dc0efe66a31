"""The RDS offering lookup uses the product description EC2/RDS expect, never a default."""

from __future__ import annotations

import pytest

from api.providers.aws.purchase import rds_product
from api.providers.base import ProviderError


@pytest.mark.parametrize(
    ("engine", "product"),
    [
        ("PostgreSQL", "postgresql"),
        ("MySQL", "mysql"),
        ("Aurora PostgreSQL", "aurora-postgresql"),
        ("postgresql", "postgresql"),
    ],
)
def test_cost_explorer_engine_names_map_to_products(engine: str, product: str) -> None:
    assert rds_product(engine) == product


@pytest.mark.parametrize("engine", [None, ""])
def test_a_missing_engine_is_refused_not_guessed(engine: str | None) -> None:
    with pytest.raises(ProviderError, match="no engine"):
        rds_product(engine)
