"""Every Prometheus series CUDly exports, and the small functions that record them.

This module is the only place that names a metric; the rest of the code calls
``record_cloud_call(...)``, ``observe_account_sweep(...)`` and friends. Labels take values
from small closed sets (providers, statuses, SDK operation names, route templates): no
label ever holds an account id, an email, a key or any other per-tenant value, so the
number of series does not grow with the number of accounts. The account id of a sweep goes
to the logs and, for OpenMetrics scrapers, to the histogram's exemplar.

Several uvicorn workers: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the
server starts; prometheus-client then keeps each worker's values in files there and a scrape
of any worker reports the sum (gauges: per ``multiprocess_mode`` below).
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.enums import Provider, PurchaseLineStatus, RunAccountStatus, RunStatus

# ``*_created`` timestamps double the series count and no rule or panel uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # The unlabelled series below open their files in it as soon as they are defined.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
REGISTRY = CollectorRegistry(auto_describe=True)

CLOUD_OUTCOMES = frozenset({"ok", "throttled", "error", "timeout"})
OTHER = "other"
_SAFE = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
_SPANS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_RUN_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)

HTTP_REQUESTS = Counter(
    "cudly_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "cudly_http_request_duration_seconds",
    "HTTP request latency (until the response is sent), by route template and method.",
    ["route", "method"],
    registry=REGISTRY,
)
COLLECTION_RUNS = Counter(
    "cudly_collection_runs",
    "Collection runs finished, by outcome (the run status).",
    ["outcome"],
    registry=REGISTRY,
)
COLLECTION_RUN_DURATION = Histogram(
    "cudly_collection_run_duration_seconds",
    "Wall-clock duration of finished collection runs, by outcome.",
    ["outcome"],
    buckets=_RUN_BUCKETS,
    registry=REGISTRY,
)
ACCOUNT_SWEEP_DURATION = Histogram(
    "cudly_collection_account_sweep_duration_seconds",
    "Duration of one account's sweep in a collection run, by provider and outcome "
    "(ok, failed, timeout, skipped). No account label: the id is in logs and exemplars.",
    ["provider", "outcome"],
    buckets=_SPANS_BUCKETS,
    registry=REGISTRY,
)
EXECUTIONS = Counter(
    "cudly_purchase_executions",
    "Plan executions (one account each) finished, by provider and outcome (the status).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
EXECUTION_DURATION = Histogram(
    "cudly_purchase_execution_duration_seconds",
    "Duration of one account's execution, by provider and outcome.",
    ["provider", "outcome"],
    buckets=_SPANS_BUCKETS,
    registry=REGISTRY,
)
CLOUD_CALLS = Counter(
    "cudly_cloud_calls",
    "Cloud API calls, by provider, service, operation and outcome (ok, throttled, error, "
    "timeout). A call retried by the SDK counts once, with its final outcome.",
    ["provider", "service", "operation", "outcome"],
    registry=REGISTRY,
)
CLOUD_THROTTLES = Counter(
    "cudly_cloud_throttles",
    "Throttling answers received from a cloud API (each attempt), by provider, service and "
    "operation.",
    ["provider", "service", "operation"],
    registry=REGISTRY,
)
CLOUD_RETRIES = Counter(
    "cudly_cloud_retries",
    "Retries of cloud API calls (by the SDK or our backoff), by provider, service and operation.",
    ["provider", "service", "operation"],
    registry=REGISTRY,
)
DECRYPTION_FAILURES = Counter(
    "cudly_credential_decryption_failures",
    "Stored credentials that could not be decrypted (unknown key, corrupt, tampered).",
    registry=REGISTRY,
)
SCHEDULER_LEADER = Gauge(
    "cudly_scheduler_leader",
    "1 on the replica (process) holding the scheduler's advisory lock, else 0.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
DB_POOL_IN_USE = Gauge(
    "cudly_db_pool_in_use",
    "Database connections checked out of the pool (summed over live workers).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "cudly_db_pool_size",
    "Most connections the pool may open: pool size plus overflow (summed over live workers).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


def _label(value: object, allowed: Iterable[str] | None = None) -> str:
    """A label value from a closed set, else ``other`` (a label never carries free text)."""
    text = str(getattr(value, "value", value))
    if allowed is not None:
        return text if text in allowed else OTHER
    return text if _SAFE.match(text) else OTHER


_PROVIDERS = frozenset(p.value for p in Provider)
_SWEEP_OUTCOMES = frozenset(s.value for s in RunAccountStatus)
_RUN_OUTCOMES = frozenset(s.value for s in RunStatus)


def record_http_request(route: str, method: str, status: int, duration_s: float) -> None:
    """One answered request (``route`` is the template, e.g. ``/api/accounts/{account_id}``)."""
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_DURATION.labels(route, method).observe(duration_s)


# The labels of the last cloud call this task made, so a retry decided above the SDK (our
# backoff) is counted against the call it repeats. Per task: contextvars.
_last_call: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar(
    "cudly_last_cloud_call", default=None
)


def record_cloud_call(provider: object, service: str, operation: str, outcome: str) -> None:
    """One cloud API call with its final outcome: ``ok``, ``throttled``, ``error`` or ``timeout``."""
    labels = (_label(provider, _PROVIDERS), _label(service), _label(operation))
    CLOUD_CALLS.labels(*labels, _label(outcome, CLOUD_OUTCOMES)).inc()
    _last_call.set(labels)


def record_backoff_retry() -> None:
    """Our backoff is about to repeat the last cloud call this task made."""
    labels = _last_call.get() or (OTHER, OTHER, OTHER)
    CLOUD_RETRIES.labels(*labels).inc()


def record_throttle(provider: object, service: str, operation: str) -> None:
    """A throttling answer (HTTP 429, ``Throttling``, ``RequestLimitExceeded`` …)."""
    CLOUD_THROTTLES.labels(_label(provider, _PROVIDERS), _label(service), _label(operation)).inc()


def record_retry(provider: object, service: str, operation: str, attempts: int = 1) -> None:
    """``attempts`` retries of one call (by the SDK's retry handler or our own backoff)."""
    if attempts > 0:
        CLOUD_RETRIES.labels(_label(provider, _PROVIDERS), _label(service), _label(operation)).inc(
            attempts
        )


def observe_account_sweep(
    duration_s: float,
    outcome: object,
    *,
    provider: object = OTHER,
    cloud_account_id: object = None,
) -> None:
    """One account's sweep finished (``outcome``: ``ok``/``failed``/``timeout``/``skipped``).

    ``cloud_account_id`` becomes the exemplar (OpenMetrics scrapes only), never a label.
    """
    exemplar = {"cloud_account_id": str(cloud_account_id)} if cloud_account_id else None
    ACCOUNT_SWEEP_DURATION.labels(
        _label(provider, _PROVIDERS), _label(outcome, _SWEEP_OUTCOMES)
    ).observe(duration_s, exemplar)


def record_run(outcome: object, duration_s: float) -> None:
    """A collection run finished (``outcome``: the run status, ``completed`` or ``failed``)."""
    label = _label(outcome, _RUN_OUTCOMES)
    COLLECTION_RUNS.labels(label).inc()
    COLLECTION_RUN_DURATION.labels(label).observe(duration_s)


def record_execution(outcome: object, duration_s: float, *, provider: object = OTHER) -> None:
    """One account's plan execution finished (``outcome``: the execution status)."""
    labels = (_label(provider, _PROVIDERS), _label(outcome))
    EXECUTIONS.labels(*labels).inc()
    EXECUTION_DURATION.labels(*labels).observe(duration_s)


def record_decryption_failure() -> None:
    """Stored credentials failed to decrypt."""
    DECRYPTION_FAILURES.inc()


def set_scheduler_leader(leader: bool) -> None:
    """This process took (True) or gave up (False) the scheduler lock."""
    SCHEDULER_LEADER.set(1 if leader else 0)


def set_db_pool(in_use: int, size: int) -> None:
    DB_POOL_IN_USE.set(in_use)
    DB_POOL_SIZE.set(size)


# --- gauges computed at scrape time from the database -----------------------------------------


@dataclass
class DatabaseGauges:
    """What the database says at scrape time (shared by every replica, so read, not counted)."""

    up: bool = True
    purchase_lines: dict[str, int] = field(default_factory=dict)  # by status
    purchasing_oldest_age_s: float = 0.0
    approval_groups_awaiting: int = 0
    approval_oldest_wait_s: float = 0.0
    approval_ttl_s: float = 0.0
    runs_running: int = 0
    run_oldest_running_age_s: float = 0.0
    run_budget_s: float = 0.0
    last_run_accounts: dict[str, int] = field(default_factory=dict)  # by account status


class _DatabaseCollector(Collector):
    def __init__(self, gauges: DatabaseGauges) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        g = self.gauges
        yield _gauge(
            "cudly_metrics_database_up",
            "1 when the scrape could read the database.",
            1 if g.up else 0,
        )
        if not g.up:
            return
        lines = GaugeMetricFamily(
            "cudly_purchase_lines", "Purchase lines by state.", labels=["state"]
        )
        for status in PurchaseLineStatus:
            lines.add_metric([status.value], g.purchase_lines.get(status.value, 0))
        yield lines
        yield _gauge(
            "cudly_purchase_lines_purchasing_oldest_age_seconds",
            "Age of the oldest purchase line in `purchasing` (claimed, cloud call not settled); 0 if none.",
            g.purchasing_oldest_age_s,
        )
        yield _gauge(
            "cudly_approval_groups_awaiting",
            "Execution groups waiting in `awaiting_approval`.",
            g.approval_groups_awaiting,
        )
        yield _gauge(
            "cudly_approval_oldest_wait_seconds",
            "How long the oldest group awaiting approval has waited; 0 if none.",
            g.approval_oldest_wait_s,
        )
        yield _gauge(
            "cudly_approval_ttl_seconds",
            "CUDLY_APPROVAL_TTL: a group left unapproved this long expires.",
            g.approval_ttl_s,
        )
        yield _gauge(
            "cudly_collection_runs_running", "Collection runs in `running`.", g.runs_running
        )
        yield _gauge(
            "cudly_collection_run_oldest_running_age_seconds",
            "Age of the oldest collection run still `running`; 0 if none.",
            g.run_oldest_running_age_s,
        )
        yield _gauge(
            "cudly_collection_run_budget_seconds",
            "The longest a run may take: ceil(enabled accounts / parallelism) x account timeout.",
            g.run_budget_s,
        )
        last = GaugeMetricFamily(
            "cudly_collection_last_run_accounts",
            "Accounts of the most recent finished collection run, by their status.",
            labels=["status"],
        )
        for account_status in RunAccountStatus:
            last.add_metric(
                [account_status.value], g.last_run_accounts.get(account_status.value, 0)
            )
        yield last


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _Combined(Collector):
    def __init__(self, *sources: Collector) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render(accept: str | None, database: DatabaseGauges | None) -> tuple[bytes, str]:
    """The exposition (Prometheus text, or OpenMetrics when asked for) and its content type."""
    process: Collector = REGISTRY
    directory = multiprocess_dir()
    if directory:
        process = MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]
    sources: list[Collector] = [process]
    if database is not None:
        sources.append(_DatabaseCollector(database))
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Combined(*sources))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(scrape), content_type


def mark_process_dead(pid: int) -> None:
    """Drop a stopped worker's live gauges (multi-process mode only)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
