"""AWS call series from botocore's own event hooks, so no call site has to remember them.

``instrument_aws_session(session)`` registers handlers on an (aio)boto3 session's event
emitter; every client made from it afterwards inherits them:

- ``response-received`` (each attempt): a throttling answer counts in
  ``cudly_cloud_throttles_total``;
- ``after-call`` / ``after-call-error`` (once per call, after the SDK's retries): the call
  with its final outcome, and the retries it took.

Labels: ``service`` is botocore's hyphenated service id (``cost-explorer``, ``sts``, ``ec2`` …) and ``operation``
the API operation (``GetReservationPurchaseRecommendation``) — closed sets, never an id.
No botocore import: the handlers only read what the events hand them.
"""

from __future__ import annotations

from typing import Any

from api.telemetry import metrics

# The codes AWS answers a throttled call with (botocore's standard retry mode list).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
_MARK = "_cudly_instrumented"


def _names(event_name: object) -> tuple[str, str]:
    """(service id, operation) from ``<event>.<service-id>.<Operation>``."""
    parts = str(event_name).split(".")
    if len(parts) != 3:
        return metrics.OTHER, metrics.OTHER
    return parts[1], parts[2]


def _error_code(parsed: Any) -> str:
    if isinstance(parsed, dict):
        error = parsed.get("Error")
        if isinstance(error, dict):
            return str(error.get("Code") or "")
    return ""


def _retries(context: Any) -> int:
    retries = context.get("retries") if isinstance(context, dict) else None
    attempt = retries.get("attempt", 1) if isinstance(retries, dict) else 1
    return max(0, int(attempt) - 1)


def _on_attempt(parsed_response: Any = None, response_dict: Any = None, **kwargs: Any) -> None:
    status = response_dict.get("status_code") if isinstance(response_dict, dict) else None
    if status == 429 or _error_code(parsed_response) in THROTTLING_CODES:
        metrics.record_throttle("aws", *_names(kwargs.get("event_name")))


def _on_call(
    http_response: Any = None, parsed: Any = None, context: Any = None, **kwargs: Any
) -> None:
    service, operation = _names(kwargs.get("event_name"))
    code = _error_code(parsed)
    status = int(getattr(http_response, "status_code", 0) or 0)
    if code in THROTTLING_CODES or status == 429:
        outcome = "throttled"
    elif status >= 300 or code:
        outcome = "error"
    else:
        outcome = "ok"
    metrics.record_cloud_call("aws", service, operation, outcome)
    metrics.record_retry("aws", service, operation, _retries(context))


def _on_call_error(exception: Any = None, context: Any = None, **kwargs: Any) -> None:
    service, operation = _names(kwargs.get("event_name"))
    outcome = "timeout" if "Timeout" in type(exception).__name__ else "error"
    metrics.record_cloud_call("aws", service, operation, outcome)
    metrics.record_retry("aws", service, operation, _retries(context))


def instrument_aws_session(session: Any) -> Any:
    """Count the calls of every client made from ``session`` (an aioboto3/boto3 session).

    Idempotent; returns the session.
    """
    events = getattr(session, "events", None)
    if events is None:  # a botocore session
        events = session.get_component("event_emitter")
    if getattr(events, _MARK, False):
        return session
    events.register("response-received", _on_attempt, unique_id="cudly-throttles")
    events.register("after-call", _on_call, unique_id="cudly-calls")
    events.register("after-call-error", _on_call_error, unique_id="cudly-call-errors")
    setattr(events, _MARK, True)
    return session
