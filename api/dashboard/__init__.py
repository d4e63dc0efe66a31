"""Dashboard aggregates (read-only)."""
