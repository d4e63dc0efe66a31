"""Executions, the purchase-line state machine, approvals, reconcile, history writes."""
