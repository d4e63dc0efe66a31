"""Metrics, tracing and log context (the only place that names a metric)."""
