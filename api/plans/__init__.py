"""Purchase plans and their target accounts."""
