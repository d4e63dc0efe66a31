"""Write the OpenAPI document the server serves to frontend/openapi.json (no server, no DB).

The document does not depend on the database, so the app is built with a placeholder URL.
Run through ``make spa-client``; tests/spa/test_client_drift.py compares the checked-in copy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def served_document() -> dict[str, Any]:
    from api.config import Settings
    from api.main import create_app

    settings = Settings(database_url="postgresql://unused:unused@localhost/unused")
    return create_app(settings).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("frontend/openapi.json")
    target.write_text(render(served_document()), encoding="utf-8")
