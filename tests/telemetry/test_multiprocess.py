"""Several uvicorn workers (PROMETHEUS_MULTIPROC_DIR): a scrape of any one reports all of them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.telemetry.conftest import value

WORKER = textwrap.dedent(
    """
    import os, sys
    from api.telemetry import metrics
    metrics.record_cloud_call("aws", "sts", "GetCallerIdentity", "ok")
    metrics.set_scheduler_leader(sys.argv[1] == "leader")
    metrics.set_db_pool(3, 20)
    print(os.getpid())
    """
)
SCRAPE = textwrap.dedent(
    """
    import sys
    from api.telemetry import metrics
    for pid in sys.argv[1:]:
        metrics.mark_process_dead(int(pid))
    sys.stdout.write(metrics.render(None, None)[0].decode())
    """
)


def _run(directory: Path, script: str, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_a_scrape_sums_every_worker(tmp_path: Path) -> None:
    tmp_path = tmp_path / "not-created-yet"  # the first worker creates it
    leader = _run(tmp_path, WORKER, "leader").strip()
    _run(tmp_path, WORKER, "follower")
    body = _run(tmp_path, SCRAPE)
    calls = {"provider": "aws", "service": "sts", "operation": "GetCallerIdentity", "outcome": "ok"}
    assert value(body, "cudly_cloud_calls_total", **calls) == 2
    assert value(body, "cudly_scheduler_leader") == 1
    assert value(body, "cudly_db_pool_in_use") == 6
    assert value(body, "cudly_db_pool_size") == 40

    # A stopped worker's live gauges go; its counters stay (they happened).
    body = _run(tmp_path, SCRAPE, leader)
    assert value(body, "cudly_scheduler_leader") == 0
    assert value(body, "cudly_db_pool_in_use") == 3
    assert value(body, "cudly_cloud_calls_total", **calls) == 2
