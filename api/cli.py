"""The ``cudly`` command: serve, migrate, admin, rekey, collect."""

from __future__ import annotations

import asyncio
import signal
import sys
from types import FrameType
from typing import Any

import typer
from pydantic import ValidationError

from api.config import Settings, env_var_for, get_settings

app = typer.Typer(help="CUDly: cloud commitments across many accounts.", no_args_is_help=True)
admin_app = typer.Typer(help="Manage administrators.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

SETTINGS_ERROR_EXIT = 2


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per problem, naming the environment variable and what to set it to."""
    lines: list[str] = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
        if loc:
            lines.append(f"{env_var_for(loc)}: {message}")
        else:  # a rule across settings: its message names the variables
            lines.append(message)
    return lines


@app.callback()
def _check_settings() -> None:
    """Read the settings before any command: a bad one is a clear line, never a traceback."""
    try:
        get_settings()
    except ValidationError as exc:
        typer.echo("cudly: invalid settings:", err=True)
        for line in settings_problems(exc):
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(SETTINGS_ERROR_EXIT) from None


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM (systemd, supervisors, test harnesses) exits like Ctrl-C does: exit handlers run.

    uvicorn shuts down gracefully on SIGTERM and then re-raises the signal to the previous
    handler; with the default one the process dies there and then, and the embedded
    PostgreSQL it started (stopped from an exit handler) is left running.
    """

    def exit_now(signum: int, _frame: FrameType | None) -> Any:
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, exit_now)


def worker_count(requested: int | None, settings: Settings) -> int:
    """--workers, else CUDLY_WORKERS, else WEB_CONCURRENCY, else the CPU count."""
    import os

    if requested:
        return requested
    if settings.server.workers:
        return settings.server.workers
    web_concurrency = os.environ.get("WEB_CONCURRENCY", "").strip()
    if web_concurrency.isdigit() and int(web_concurrency) > 0:
        return int(web_concurrency)
    return os.cpu_count() or 1


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default CUDLY_HOST)"),
    port: int | None = typer.Option(None, help="Port (default CUDLY_PORT)"),
    workers: int | None = typer.Option(
        None, min=1, help="Server processes (default CUDLY_WORKERS, else the CPU count)"
    ),
) -> None:
    """Run the API server and the SPA (migrates on start unless CUDLY_RUN_MIGRATIONS=false).

    With several workers (processes) this process supervises them: it starts the embedded
    PostgreSQL (when DATABASE_URL is unset) and migrates once, before any worker starts;
    a worker that dies is replaced; SIGTERM stops the workers, then the database.
    """
    import uvicorn

    from api.kit.http11 import JsonErrorH11Protocol

    settings = get_settings()
    exit_cleanly_on_sigterm()
    options: dict[str, Any] = {
        "factory": True,
        "host": host or settings.server.host,
        "port": port or settings.server.port,
        "access_log": False,
        "log_config": None,
        # Forwarding headers are handled in the app, from CUDLY_TRUSTED_PROXIES only.
        "proxy_headers": False,
        # A request h11 cannot parse gets the API's JSON error, not uvicorn's plain text.
        "http": JsonErrorH11Protocol,
    }
    count = worker_count(workers, settings)
    if count == 1:
        uvicorn.run("api.main:app_factory", **options)
        return
    supervise_workers(
        uvicorn.Config("api.main:app_factory", workers=count, **options, **SUPERVISION), settings
    )


# uvicorn pings each worker and kills one that takes longer than this to answer: a worker busy
# with a CPU-heavy collection (or starting on a loaded host) must not be taken for hung.
SUPERVISION: dict[str, Any] = {"timeout_worker_healthcheck": 30}


def supervise_workers(config: Any, settings: Settings) -> None:
    """Run ``config.workers`` uvicorn workers on one socket; exit 143 after a SIGTERM."""
    import os

    from uvicorn.supervisors import Multiprocess

    from api.db import database_url
    from api.migrate import upgrade

    # Once, here: the workers inherit the URL (and never start a database of their own).
    url = database_url(settings)
    os.environ["DATABASE_URL"] = url
    if settings.db.run_migrations:
        upgrade(url)
        os.environ["CUDLY_RUN_MIGRATIONS"] = "false"
    sock = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[sock])
    # Multiprocess turns SIGTERM into a graceful stop of every worker; remember it was one.
    terminated: list[int] = []
    forward = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        terminated.append(signum)
        if callable(forward):
            forward(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        supervisor.run()
    finally:
        sock.close()
    if terminated:
        sys.exit(128 + signal.SIGTERM)  # the embedded PostgreSQL stops in the exit handlers


@app.command()
def migrate(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply database migrations up to REVISION."""
    from api.db import database_url
    from api.migrate import upgrade

    upgrade(database_url(get_settings()), revision)
    typer.echo(f"database migrated to {revision}")


@admin_app.command("create")
def admin_create(
    email: str = typer.Option(..., prompt=True, help="The admin's email"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters"
    ),
) -> None:
    """Create an admin user (works whether or not other admins exist)."""
    from pydantic import ValidationError

    from api.auth.schemas import UserCreate
    from api.enums import Role

    try:
        data = UserCreate.model_validate({"email": email, "password": password, "role": Role.admin})
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()
        )
        typer.echo(f"invalid input: {fields}", err=True)
        raise typer.Exit(2) from None
    asyncio.run(_admin_create(data))


async def _admin_create(data: object) -> None:
    from api.auth import service
    from api.auth.schemas import UserCreate
    from api.db import create_engine, create_sessionmaker, database_url
    from api.errors import AppError
    from api.migrate import upgrade_async

    assert isinstance(data, UserCreate)
    settings = get_settings()
    url = database_url(settings)
    await upgrade_async(url)
    engine = create_engine(url, settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            user = await service.create_user(session, None, data)
        typer.echo(f"admin {user.email} created ({user.id})")
    except AppError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        await engine.dispose()


@app.command()
def rekey(
    old_key: str = typer.Option(
        ...,
        "--old-key",
        envvar="CUDLY_REKEY_OLD_KEY",
        help="The key (64 hex) blobs are sealed with now; or set CUDLY_REKEY_OLD_KEY",
    ),
    new_key: str = typer.Option(
        ...,
        "--new-key",
        envvar="CUDLY_REKEY_NEW_KEY",
        help="The key (64 hex) to re-seal every blob with; or set CUDLY_REKEY_NEW_KEY",
    ),
) -> None:
    """Re-encrypt every stored credential with NEW_KEY, in one transaction."""
    from api.credentials.rekey import RekeyFailed, rekey_database

    try:
        result = asyncio.run(rekey_database(get_settings(), old_key, new_key))
    except RekeyFailed as exc:
        typer.echo(f"rekey failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"re-encrypted {result.reencrypted} of {result.total} credential blobs with key "
        f"{result.new_key_id} ({result.already_current} already under it)"
    )


@app.command()
def collect(
    account: list[str] = typer.Option(
        None, "--account", help="Collect only this account id (repeatable); default: all enabled"
    ),
) -> None:
    """Run one collection cycle now, with a progress bar and a per-account summary.

    Exits 1 when any account failed or timed out (or a run is already in progress).
    """
    import uuid

    from rich.console import Console

    from api.collection.cli import run_collect
    from api.db import database_url
    from api.migrate import upgrade_async

    try:
        account_ids = [uuid.UUID(value) for value in account] if account else None
    except ValueError:
        typer.echo("--account takes a cloud account id (a UUID)", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    url = database_url(settings)

    async def main() -> int:
        await upgrade_async(url)
        return await run_collect(settings, url, account_ids, Console())

    raise typer.Exit(asyncio.run(main()))
