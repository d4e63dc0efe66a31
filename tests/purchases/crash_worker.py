"""A pre-warmed parent that forks one execution worker per request, for the crash tests.

``python -m tests.purchases.crash_worker`` with ``CUDLY_CRASH_DATABASE_URL`` (and botocore's
endpoint variables) in the environment. Each stdin line is ``<stale_s> <execution ids, comma
separated>``; the answer on stdout is the forked worker's pid. The worker creates the real
app (its own engine, key ring, clients), runs the executions with the real runner and exits;
the test SIGKILLs it wherever it likes. Forking after the imports keeps a trial fast.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from typing import Any

import botocore.loaders
import botocore.session
from fastapi import FastAPI

from api.main import create_app
from api.purchases.runner import Runner
from tests.conftest import make_settings


async def _work(app: FastAPI, stale_s: float, ids: list[uuid.UUID]) -> None:
    app.state.settings.purchases.execution_stale_after_s = stale_s
    async with app.router.lifespan_context(app):
        runner: Runner = app.state.purchase_runner
        await runner.run(ids)


def _prewarm_botocore() -> None:
    """Parse the service models once, here, so every forked worker inherits them.

    botocore caches loaded JSON per session only; a process-wide cache of the (read-only)
    files lets each worker's fresh session skip the ~1 s of model loading per trial.
    """
    original = botocore.loaders.JSONFileLoader.load_file
    cache: dict[tuple[str, Any], Any] = {}

    def load_file(self: Any, file_path: str, *args: Any) -> Any:
        key = (file_path, args)
        if key not in cache:
            cache[key] = original(self, file_path, *args)
        return cache[key]

    botocore.loaders.JSONFileLoader.load_file = load_file
    session = botocore.session.get_session()
    for service in ("sts", "ec2", "rds", "savingsplans"):
        session.create_client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )


def main() -> None:
    url = os.environ["CUDLY_CRASH_DATABASE_URL"]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped automatically
    _prewarm_botocore()
    # Built before forking (it connects nothing): each worker only runs the lifespan.
    app = create_app(
        make_settings(url, purchases_enabled=True, purchase_grace_days=0, log_level="WARNING")
    )
    for raw in sys.stdin:
        stale, _, listed = raw.strip().partition(" ")
        ids = [uuid.UUID(i) for i in listed.split(",") if i]
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                asyncio.run(_work(app, float(stale), ids))
            except BaseException:
                code = 1
            os._exit(code)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
