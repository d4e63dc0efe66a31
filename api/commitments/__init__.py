"""The inventory of active commitments (read side; written by collection)."""
