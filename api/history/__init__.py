"""Purchase history: read-only queries, analytics and breakdowns."""
