"""Indexes the read side (history, dashboard) needs on tables other domains write.

Declared here, beside the tables' own, so the models and migration 0004 stay one schema
(``tests/foundation/test_migrations.py`` compares them). Each names the query it serves;
docs/benchmarks.md shows their plans at 200k recommendations.
"""

from __future__ import annotations

from sqlalchemy import Index

from api.models.collection import Recommendation, SavingsSnapshot
from api.models.purchases import PurchaseHistory

READ_INDEXES = (
    # GET /api/history?account_ids=… (keyset on purchased_at, id) and per-account analytics.
    Index(
        "ix_purchase_history_account_purchased_at",
        PurchaseHistory.cloud_account_id,
        PurchaseHistory.purchased_at,
        PurchaseHistory.id,
    ),
    # Dashboard potential savings: Σ per (account, provider, currency) from the index alone.
    Index(
        "ix_recommendations_account_currency_savings",
        Recommendation.cloud_account_id,
        Recommendation.provider,
        Recommendation.currency,
        Recommendation.estimated_monthly_savings,
    ),
    # Savings over time for named accounts.
    Index(
        "ix_savings_snapshots_account_captured_at",
        SavingsSnapshot.cloud_account_id,
        SavingsSnapshot.captured_at,
    ),
)
