"""``cudly collect``: one collection cycle from the shell, with a progress bar and a summary.

The run is recorded like any other (trigger ``cli``), so the API, the SPA and freshness see
it; when a run is already in progress (a server is collecting), the command says so and
exits 1 rather than start a second one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.auth.permissions import AccountScope
from api.collection import repository
from api.collection.service import (
    AccountProgress,
    CollectionContext,
    CollectionWorker,
    start_run,
)
from api.config import Settings
from api.db import create_engine, create_sessionmaker, unit_of_work
from api.enums import Provider, RunAccountStatus, RunTrigger
from api.errors import AppError
from api.kit.crypto import KeyRing, load_key_ring
from api.providers import registry
from api.providers.base import Collector
from api.providers.clients import ProviderClients

EVERYTHING = AccountScope.everything()
STATUS_STYLE = {
    RunAccountStatus.ok.value: "green",
    RunAccountStatus.failed.value: "red",
    RunAccountStatus.timeout.value: "red",
    RunAccountStatus.skipped.value: "yellow",
}


async def run_collect(
    settings: Settings,
    url: str,
    account_ids: Sequence[uuid.UUID] | None,
    console: Console,
    *,
    collector_for: Callable[[Provider], Collector] = registry.collector,
) -> int:
    """Collect once and print a summary; the exit code is 1 when any account failed."""
    engine = create_engine(url, settings)
    maker = create_sessionmaker(engine)
    ring: KeyRing | None = None

    async def key_ring() -> KeyRing:
        nonlocal ring
        if ring is None:
            ring = await load_key_ring(settings)
        return ring

    try:
        async with ProviderClients(settings) as clients:
            ctx = CollectionContext(
                maker=maker,
                settings=settings,
                clients=clients,
                key_ring=key_ring,
                collector_for=collector_for,
            )
            # A worker of its own: it claims its share as the run is created, and any server
            # on the same database is woken to help.
            worker = CollectionWorker(ctx)
            await worker.start_listening()
            try:
                started = await start_run(
                    maker,
                    settings,
                    trigger=RunTrigger.cli,
                    account_ids=account_ids,
                    scope=AccountScope.everything(),
                    first_claim=worker.first_claim,
                )
            except AppError as exc:
                await worker.listener.stop()
                console.print(f"[red]error:[/red] {exc.message}")
                return 1
            if not started.created:
                await worker.listener.stop()
                console.print(
                    f"[yellow]a collection run is already in progress ({started.run_id}); "
                    "follow it with GET /api/collection-runs/{id}[/yellow]"
                )
                return 1
            async with unit_of_work(maker) as session:
                total = len(await repository.run_accounts(session, started.run_id, EVERYTHING))

            with Progress(
                TextColumn("[bold]collecting"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=False,
            ) as progress:
                task = progress.add_task("", total=total)

                # Every finished account (skipped ones at once), whichever process did it.
                async def on_progress(event: AccountProgress) -> None:
                    progress.update(
                        task, advance=1, description=f"{event.ref.account_name}: {event.status}"
                    )

                worker.run_id = started.run_id
                await worker.run_until_closed(on_progress)

            async with unit_of_work(maker) as session:
                run = await repository.get_run(session, started.run_id)
                rows = await repository.run_accounts(session, started.run_id, EVERYTHING)
    finally:
        await engine.dispose()

    table = Table(title=f"collection run {started.run_id}")
    for column in ("account", "provider", "status", "recommendations", "commitments", "time"):
        table.add_column(column, justify="right" if column in {"time"} else "left")
    table.add_column("error / warnings", overflow="fold")
    for row in rows:
        style = STATUS_STYLE.get(row.status, "")
        notes = row.error or "; ".join(row.warnings)
        seconds = f"{(row.duration_ms or 0) / 1000:.1f}s"
        table.add_row(
            f"{row.account_name} ({row.account_external_id})",
            row.provider,
            f"[{style}]{row.status}[/{style}]" if style else row.status,
            str(row.recommendation_count),
            str(row.commitment_count),
            seconds,
            notes,
        )
    console.print(table)
    failed = [r for r in rows if r.status in (RunAccountStatus.failed, RunAccountStatus.timeout)]
    assert run is not None
    console.print(
        f"{run.accounts_ok} ok, {len(failed)} failed, "
        f"{sum(1 for r in rows if r.status == RunAccountStatus.skipped)} skipped; "
        f"{run.recommendation_count} recommendations stored"
    )
    return 1 if failed else 0
