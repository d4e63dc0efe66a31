"""Every table, imported here so ``Base.metadata`` is complete for Alembic and tests."""

from api.models.accounts import (
    AccountCredential,
    AccountServiceOverride,
    CloudAccount,
    ServiceConfig,
)
from api.models.audit import AuditEvent
from api.models.auth import ApiKey, Group, RateLimitWindow, Session, User, UserGroup
from api.models.base import Base
from api.models.collection import (
    CollectionRun,
    CollectionRunAccount,
    Recommendation,
    SavingsSnapshot,
)
from api.models.commitments import Commitment
from api.models.plans import PlanAccount, PurchasePlan
from api.models.purchases import (
    PurchaseApproval,
    PurchaseExecution,
    PurchaseHistory,
    PurchaseLine,
)
from api.models.read_indexes import READ_INDEXES

__all__ = [
    "READ_INDEXES",
    "AccountCredential",
    "AccountServiceOverride",
    "ApiKey",
    "AuditEvent",
    "Base",
    "CloudAccount",
    "CollectionRun",
    "CollectionRunAccount",
    "Commitment",
    "Group",
    "PlanAccount",
    "PurchaseApproval",
    "PurchaseExecution",
    "PurchaseHistory",
    "PurchaseLine",
    "PurchasePlan",
    "RateLimitWindow",
    "Recommendation",
    "SavingsSnapshot",
    "ServiceConfig",
    "Session",
    "User",
    "UserGroup",
]
