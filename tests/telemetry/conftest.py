"""Telemetry fixtures: series read back from a scrape, and an in-memory span exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from api.telemetry import tracing

Sample = tuple[str, dict[str, str], float]


def samples(exposition: str) -> list[Sample]:
    """Every sample of a text exposition as (name, labels, value)."""
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    ]


def value(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
    return sum(
        v
        for n, found, v in samples(exposition)
        if n == name and all(found.get(k) == want for k, want in labels.items())
    )


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test (before the app is built), exporting to memory."""
    tracing.shutdown()
    exporter = InMemorySpanExporter()
    tracing.init(exporter)
    yield exporter
    tracing.shutdown()
