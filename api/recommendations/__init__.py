"""Recommendations: filters, cursors, freshness."""
