"""Swagger UI at ``/api/docs``, served from the installed ``swagger-ui-py`` package.

No CDN: the page works on an air-gapped install, and under the strict CSP (no inline
script: the initialiser is a file of its own).
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(swagger_ui.__file__).resolve().parent / "static"
DOCS_PATH = "/api/docs"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CUDly API</title>
<link rel="stylesheet" href="{DOCS_PATH}/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="{DOCS_PATH}/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_PATH}/assets/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def install_docs(app: FastAPI) -> None:
    """``/api/docs`` (the page), ``/api/docs/init.js`` and ``/api/docs/assets/*``."""

    async def docs_page() -> HTMLResponse:
        return HTMLResponse(_PAGE)

    async def docs_init() -> Response:
        return Response(_INIT, media_type="text/javascript")

    app.add_api_route(DOCS_PATH, docs_page, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{DOCS_PATH}/init.js", docs_init, methods=["GET"], include_in_schema=False)
    app.mount(f"{DOCS_PATH}/assets", StaticFiles(directory=ASSETS), name="swagger-ui-assets")
