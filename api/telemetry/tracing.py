"""OpenTelemetry tracing: off by default, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

When on, spans cover HTTP requests (FastAPI), database statements (SQLAlchemy), cloud calls
over httpx (ARM, Google REST) and botocore, plus the spans CUDly opens itself: one per
collection run or execution group and one per account task inside it, with the run id,
account id and provider as attributes (never a credential). The exporter is configured by
the standard ``OTEL_EXPORTER_OTLP_*`` variables (OTLP over HTTP/protobuf);
``OTEL_SERVICE_NAME`` names the service (default ``cudly``). When off, :func:`span` costs a
no-op context manager.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from api.telemetry import context, metrics

logger = logging.getLogger(__name__)

# The health probes and the scrape would drown the interesting spans.
EXCLUDED_URLS = "/metrics,/api/health,/api/ready"
_NOOP = trace.NoOpTracer()
_provider: TracerProvider | None = None


def endpoint_configured() -> bool:
    """Whether the environment asks for trace export (and the SDK is not disabled)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def init(exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Set up the process's tracer provider once; ``exporter`` (tests) exports synchronously.

    Returns None when tracing stays off (no exporter given and no OTLP endpoint configured).
    """
    global _provider
    if _provider is not None:
        return _provider
    if exporter is None:
        if not endpoint_configured():
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor: Any = BatchSpanProcessor(OTLPSpanExporter())
    else:
        processor = SimpleSpanProcessor(exporter)
    service_name = os.environ.get("OTEL_SERVICE_NAME") or "cudly"
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(processor)
    _instrument_clients(provider)
    _provider = provider
    logger.info("tracing on", extra={"otel_service_name": service_name})
    return provider


def _instrument_clients(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    BotocoreInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]


def shutdown() -> None:
    """Flush and stop tracing, and remove the client instrumentation (tests, process exit)."""
    global _provider
    provider, _provider = _provider, None
    if provider is None:
        return
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    BotocoreInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
    provider.shutdown()


def provider() -> TracerProvider | None:
    return _provider


def instrument_app(app: Any) -> None:
    """Request spans for this app (call before it starts serving)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls=EXCLUDED_URLS)


def instrument_engine(engine: Any) -> None:
    """Statement spans for this engine (an ``AsyncEngine``)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()  # a previous app in this process (tests)
    # skip_dep_check: the instrumentation declares sqlalchemy < 2.1, but the event API it
    # hooks is unchanged in 2.1 (tests/telemetry/test_tracing.py checks the spans).
    instrumentor.instrument(
        engine=engine.sync_engine, tracer_provider=_provider, skip_dep_check=True
    )


def uninstrument_engine() -> None:
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def tracer() -> trace.Tracer:
    return _provider.get_tracer("cudly") if _provider is not None else _NOOP


def _attributes(fields: dict[str, object]) -> dict[str, str]:
    return {
        f"cudly.{name}": str(getattr(value, "value", value))
        for name, value in fields.items()
        if value is not None
    }


@contextmanager
def span(name: str, **fields: object) -> Iterator[Span]:
    """A span named ``name`` with ``fields`` as ``cudly.<field>`` attributes.

    An exception marks the span as errored (type only: a message may name an account).
    """
    with tracer().start_as_current_span(
        name, attributes=_attributes(fields), record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


@contextmanager
def account_task(
    name: str,
    *,
    cloud_account_id: object = None,
    provider: object = None,
    run_id: object = None,
    execution_id: object = None,
) -> Iterator[Span]:
    """Everything one account task needs: its log context bound and its own span.

    ``with account_task("collection.account", run_id=…, cloud_account_id=…, provider=…):``
    """
    with (
        context.bind(
            run_id=run_id,
            execution_id=execution_id,
            cloud_account_id=cloud_account_id,
            provider=provider,
        ),
        span(
            name,
            run_id=run_id,
            execution_id=execution_id,
            cloud_account_id=cloud_account_id,
            provider=provider,
        ) as current,
    ):
        yield current


def annotate(**fields: object) -> None:
    """Add ids learnt mid-task (the account of an execution) to its span and log context.

    Binds without unbinding, so call it only inside a task of its own (a fan-out item): the
    task's context ends with it.
    """
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(_attributes(fields))
    for name, value in fields.items():
        if name in context.FIELDS and value is not None:
            context.set_field(name, value)


@contextmanager
def collection_run(run_id: object) -> Iterator[None]:
    """A whole collection run: its log context, its span, and its outcome and duration.

    The run is ``failed`` when the block raises (the runner closes it failed then), else
    ``completed``.
    """
    started = time.perf_counter()
    with context.bind(run_id=run_id), span("collection.run", run_id=run_id):
        try:
            yield
        except BaseException:
            metrics.record_run("failed", time.perf_counter() - started)
            raise
        metrics.record_run("completed", time.perf_counter() - started)
