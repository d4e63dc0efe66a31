"""Collection runs: the TaskGroup sweep over accounts, runs, SSE, the scheduler loop."""
