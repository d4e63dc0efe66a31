"""One server process for the multi-replica tests: the real app (settings from the environment)
with the periodic scheduler on and a collector that never answers, so its run stays running
until the process is killed. Run as ``python -m tests.collection.replica``."""

from __future__ import annotations

import asyncio

from api.config import Settings
from api.main import create_app
from tests.collection.fakes import Behaviour, FakeCloud


async def main() -> None:
    app = create_app(Settings())
    app.state.collector_for = FakeCloud(default=Behaviour(hang=True)).collector_for
    async with app.router.lifespan_context(app):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
