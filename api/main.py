"""``create_app()`` and its lifespan: database, migrations, first admin, routers, the SPA."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.config import Settings, get_settings
from api.db import create_engine, create_read_sessionmaker, create_sessionmaker, database_url
from api.docs_ui import install_docs
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.kit.crypto import get_key_ring
from api.logging import configure_logging
from api.middleware import install_middleware
from api.migrate import upgrade_async
from api.providers.aws.secrets import get_secret_string

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FRONTEND_DIST = ROOT / "frontend" / "dist"


def _routers() -> list[APIRouter]:
    from api.accounts import endpoints as accounts
    from api.api_keys import endpoints as api_keys
    from api.audit import endpoints as audit
    from api.auth import endpoints as auth
    from api.collection import endpoints as collection
    from api.commitments import endpoints as commitments
    from api.credentials import endpoints as credentials
    from api.dashboard import endpoints as dashboard
    from api.discovery import endpoints as discovery
    from api.groups import endpoints as groups
    from api.health import endpoints as health
    from api.history import endpoints as history
    from api.plans import endpoints as plans
    from api.purchases import endpoints as purchases
    from api.recommendations import endpoints as recommendations
    from api.service_config import endpoints as service_config
    from api.telemetry import endpoints as telemetry
    from api.users import endpoints as users

    # More specific /accounts/... routes before the accounts router's /accounts/{id}.
    modules = [
        health,
        auth,
        users,
        groups,
        api_keys,
        audit,
        credentials,
        discovery,
        service_config,
        accounts,
        recommendations,
        collection,
        commitments,
        plans,
        purchases,
        history,
        dashboard,
        telemetry,
    ]
    return [module.router for module in modules]


def _operation_id(route: APIRoute) -> str:
    """``{tag}-{name}``, without repeating the tag: ``list_accounts`` → ``accounts-list``.

    A generated SDK turns these into method names (``accounts_list``), so a route named
    ``<verb>_<tag>`` (or the tag's singular) keeps only the verb and one named
    ``<tag>_<rest>`` keeps ``<rest>``; any other name is kept whole (``accounts-discover_org``).
    """
    tag = str(route.tags[0]) if route.tags else "default"
    name, words = route.name, tag.replace("-", "_")
    nouns = {words, words.removesuffix("s")}
    verb, _, noun = name.partition("_")
    if noun in nouns:
        name = verb
    elif verb in nouns and noun:
        name = noun
    elif name.startswith(f"{words}_"):
        name = name.removeprefix(f"{words}_")
    return f"{tag}-{name}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    url = database_url(settings)
    if settings.db.run_migrations:
        await upgrade_async(url)
    engine = create_engine(url, settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.read_sessionmaker = create_read_sessionmaker(engine)
    from api.providers.clients import ProviderClients

    # One SDK session and one HTTP pool for every cloud call of this process.
    app.state.provider_clients = ProviderClients(settings)
    for hook in app.state.startup_hooks:
        await hook(app)
    logger.info("CUDly ready", extra={"env": settings.env.value})
    try:
        yield
    finally:
        for hook in app.state.shutdown_hooks:
            await hook(app)
        await app.state.provider_clients.aclose()
        await _dispose(engine, timeout_s=settings.db.connect_timeout_s)


async def _dispose(engine: AsyncEngine, *, timeout_s: float) -> None:
    """Close the pool, but never wait asyncpg's command timeout (60 s) on a connection stuck
    mid-operation after its backend died (seen after a database restart): past ``timeout_s``
    the remaining connections are abandoned to the process's exit."""
    try:
        async with asyncio.timeout(timeout_s):
            await engine.dispose()
    except TimeoutError:
        logger.warning(
            "closing the database pool took over %.0f s; leaving its last connections", timeout_s
        )


async def _bootstrap_admin(app: FastAPI) -> None:
    from api.auth.service import bootstrap_admin_from_settings

    async with app.state.sessionmaker() as session, session.begin():
        await bootstrap_admin_from_settings(session, app.state.settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.server.log_level, settings.server.log_format.value)
    app = FastAPI(
        title="CUDly",
        version="0.1.0",
        summary="Cloud commitments (RIs, Savings Plans, Reservations, CUDs) across many accounts",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served from the package, not a CDN: api.docs_ui
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # One schema per model (no "-Input"/"-Output" twins), so generated SDKs get one class.
        separate_input_output_schemas=False,
        responses=ERROR_RESPONSES,
    )
    app.state.settings = settings
    # kit.crypto reads the key from Secrets Manager through this, never importing providers/.
    app.state.read_secret = partial(get_secret_string, settings)
    # The key ring first: a bad or unreachable key stops the start, and the dev key warns now.
    app.state.startup_hooks = [get_key_ring, _bootstrap_admin]
    app.state.shutdown_hooks = []
    from api.collection.scheduler import install as install_collection

    install_collection(app)  # the collection runner and, when enabled, the periodic loop
    from api.purchases.runner import install as install_purchases

    install_purchases(app)  # the execution runner and, when enabled, reconcile + schedules
    install_error_handlers(app)
    from api.telemetry.app import install as install_telemetry
    from api.telemetry.endpoints import metrics_router

    install_telemetry(app)  # inside the request context: its HTTP series see the matched route
    install_middleware(app, settings)
    install_docs(app)
    for router in _routers():
        app.include_router(router, prefix="/api")
    app.include_router(metrics_router)  # GET /metrics, where scrapers look (not under /api)
    _mount_spa(app, settings.server.frontend_dist or DEFAULT_FRONTEND_DIST)
    _document_errors_as_400(app)
    return app


def _document_errors_as_400(app: FastAPI) -> None:
    """Validation failures are 400 with the SPEC §2 body, so the document must not promise 422;
    and an empty optional query parameter is accepted as "no filter", so it says so."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        error_ref = {"$ref": "#/components/schemas/ErrorBody"}
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    # The middleware drops empty query parameters: ``?since=`` means no filter.
                    if parameter.get("in") == "query" and not parameter.get("required"):
                        parameter["allowEmptyValue"] = True
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None or "400" not in responses:
                    responses.setdefault(
                        "400",
                        {
                            "description": "Invalid input",
                            "content": {"application/json": {"schema": error_ref}},
                        },
                    )
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


PLACEHOLDER = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>CUDly</title></head>
<body><main><h1>CUDly</h1><p>The web interface has not been built. The API lives under
<a href="/api/docs">/api/docs</a>.</p></main></body></html>"""


NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


def _mount_spa(app: FastAPI, dist: Path) -> None:
    """Serve the built SPA for every GET that no API route claims (client-side routing).

    Done in the 404 handler rather than a catch-all route, so ``/api/*`` keeps its JSON 404s
    and a wrong method on an API path stays a 405.
    """
    dist = dist.resolve()
    api_errors = app.exception_handlers[StarletteHTTPException]

    async def spa_or_error(request: Request, exc: Exception) -> Response:
        path = request.url.path.lstrip("/")
        is_api = path == "api" or path.startswith("api/")
        if (
            isinstance(exc, StarletteHTTPException)
            and exc.status_code == 404
            and not is_api
            and request.method in {"GET", "HEAD"}
        ):
            index = dist / "index.html"
            if not index.is_file():
                return HTMLResponse(PLACEHOLDER, headers={"Cache-Control": NO_CACHE})
            candidate = (dist / path).resolve()
            if path and candidate.is_file() and candidate.is_relative_to(dist):
                # Vite puts content-hashed bundles under assets/: their URL changes with them.
                hashed = candidate.is_relative_to(dist / "assets")
                return FileResponse(
                    candidate, headers={"Cache-Control": IMMUTABLE if hashed else NO_CACHE}
                )
            # Client-side routes (deep links) get index.html, which must never be cached:
            # it names the current hashed bundles.
            return FileResponse(index, headers={"Cache-Control": NO_CACHE})
        rendered = api_errors(request, exc)
        return await rendered if not isinstance(rendered, Response) else rendered

    app.add_exception_handler(StarletteHTTPException, spa_or_error)


def app_factory() -> Any:
    """Entry point for ``uvicorn --factory api.main:app_factory``."""
    return create_app()
