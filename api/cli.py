"""The ``cudly`` command: serve, migrate, admin, rekey, collect."""

from __future__ import annotations

import asyncio

import typer

from api.config import get_settings

app = typer.Typer(help="CUDly: cloud commitments across many accounts.", no_args_is_help=True)
admin_app = typer.Typer(help="Manage administrators.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default CUDLY_HOST)"),
    port: int | None = typer.Option(None, help="Port (default CUDLY_PORT)"),
) -> None:
    """Run the API server and the SPA (migrates on start unless CUDLY_RUN_MIGRATIONS=false)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.main:app_factory",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        access_log=False,
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def migrate(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply database migrations up to REVISION."""
    from api.main import database_url
    from api.migrate import upgrade

    upgrade(database_url(get_settings()), revision)
    typer.echo(f"database migrated to {revision}")


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]
