"""The account-isolation table: for every route, how a user constrained to account A tries
to reach account B through it, or why the route carries no account data.

A route of the permission matrix without a row here fails ``test_every_route_has_an_isolation_row``.
A probe name refers to a function in ``tests/hardening/test_isolation.py``; an ``Exempt``
states why nothing account-scoped can leak through the route.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exempt:
    reason: str


ADMIN_ONLY = Exempt("admin only: a constrained user gets 403 (permission matrix)")
OWN_IDENTITY = Exempt("the caller's own session, user or API keys: no cloud account data")
GLOBAL_CONFIG = Exempt("global service defaults: not per account (SPEC §4)")

# (METHOD, path template) -> probe names (each a coroutine in test_isolation.py) or Exempt
ISOLATION: dict[tuple[str, str], tuple[str, ...] | Exempt] = {
    ("GET", "/api/health"): Exempt("public liveness, no data"),
    ("GET", "/api/ready"): Exempt("public readiness, no data"),
    ("GET", "/metrics"): ADMIN_ONLY,
    ("POST", "/api/auth/login"): OWN_IDENTITY,
    ("POST", "/api/auth/setup-admin"): Exempt("public, works once before any admin exists"),
    ("POST", "/api/auth/logout"): OWN_IDENTITY,
    ("GET", "/api/auth/me"): OWN_IDENTITY,
    ("GET", "/api/users"): ADMIN_ONLY,
    ("POST", "/api/users"): ADMIN_ONLY,
    ("GET", "/api/users/{user_id}"): ADMIN_ONLY,
    ("PUT", "/api/users/{user_id}"): ADMIN_ONLY,
    ("DELETE", "/api/users/{user_id}"): ADMIN_ONLY,
    ("GET", "/api/groups"): ADMIN_ONLY,
    ("POST", "/api/groups"): ADMIN_ONLY,
    ("GET", "/api/groups/{group_id}"): ADMIN_ONLY,
    ("PUT", "/api/groups/{group_id}"): ADMIN_ONLY,
    ("DELETE", "/api/groups/{group_id}"): ADMIN_ONLY,
    ("GET", "/api/api-keys"): OWN_IDENTITY,
    ("POST", "/api/api-keys"): OWN_IDENTITY,
    ("DELETE", "/api/api-keys/{key_id}"): OWN_IDENTITY,
    ("GET", "/api/audit"): ADMIN_ONLY,
    ("POST", "/api/accounts/discover-org"): ADMIN_ONLY,
    ("GET", "/api/config"): GLOBAL_CONFIG,
    ("PUT", "/api/config/service/{provider}/{service}"): GLOBAL_CONFIG,
    # accounts
    ("GET", "/api/accounts"): ("accounts_list", "accounts_search"),
    ("POST", "/api/accounts"): ("accounts_create_through_b_bastion",),
    ("GET", "/api/accounts/{account_id}"): ("account_get",),
    ("PUT", "/api/accounts/{account_id}"): ("account_put",),
    ("DELETE", "/api/accounts/{account_id}"): ("account_delete",),
    ("POST", "/api/accounts/{account_id}/credentials"): ("account_credentials",),
    ("POST", "/api/accounts/{account_id}/test"): ("account_test",),
    ("GET", "/api/accounts/{account_id}/service-overrides"): ("overrides_get",),
    ("PUT", "/api/accounts/{account_id}/service-overrides/{provider}/{service}"): (
        "overrides_put",
    ),
    ("DELETE", "/api/accounts/{account_id}/service-overrides/{provider}/{service}"): (
        "overrides_delete",
    ),
    ("GET", "/api/accounts/{account_id}/effective-config"): ("effective_config",),
    # recommendations and collection
    ("GET", "/api/recommendations"): (
        "recommendations_list",
        "recommendations_account_ids",
        "recommendations_admin_cursor",
    ),
    ("GET", "/api/recommendations/freshness"): ("freshness",),
    ("POST", "/api/recommendations/refresh"): ("refresh_b", "refresh_everything_is_own_scope"),
    ("GET", "/api/collection-runs"): ("runs_list",),
    ("GET", "/api/collection-runs/{run_id}"): ("run_get",),
    ("GET", "/api/collection-runs/{run_id}/events"): ("run_events",),
    ("GET", "/api/commitments"): ("commitments_list", "commitments_admin_cursor"),
    # plans and executions
    ("GET", "/api/plans"): ("plans_list",),
    ("POST", "/api/plans"): ("plan_create_then_target_b",),
    ("GET", "/api/plans/{plan_id}"): ("plan_get",),
    ("PUT", "/api/plans/{plan_id}"): ("plan_put",),
    ("DELETE", "/api/plans/{plan_id}"): ("plan_delete",),
    ("GET", "/api/plans/{plan_id}/accounts"): ("plan_accounts_get",),
    ("PUT", "/api/plans/{plan_id}/accounts"): ("plan_accounts_put",),
    ("POST", "/api/plans/{plan_id}/execute"): ("plan_execute_b", "plan_execute_all_targets"),
    ("GET", "/api/executions"): ("executions_list",),
    ("POST", "/api/executions/{execution_id}/retry"): ("execution_retry",),
    ("POST", "/api/executions/{group_id}/approve"): ("execution_approve",),
    ("POST", "/api/executions/{group_id}/reject"): ("execution_reject",),
    ("GET", "/api/executions/{group_id}/events"): ("execution_events",),
    # history and dashboard
    ("GET", "/api/history"): ("history_list", "history_csv", "history_admin_cursor"),
    ("GET", "/api/history/analytics"): ("history_analytics",),
    ("GET", "/api/history/breakdown"): ("history_breakdown",),
    ("GET", "/api/dashboard/summary"): ("dashboard_summary",),
    ("GET", "/api/dashboard/upcoming"): ("dashboard_upcoming",),
    ("GET", "/api/dashboard/savings-over-time"): ("dashboard_savings",),
}
