"""The error model of SPEC §2 and the handlers that render every error in it.

``{"error": "<human message>", "code": "<machine_code>"}``, plus ``fields`` for validation.
Services raise :class:`AppError` subclasses; ``HTTPException`` never appears below endpoints.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx response body."""

    error: str
    code: str
    fields: list[FieldError] | None = None


class AppError(Exception):
    status_code = 500
    code = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields
        self.headers = headers
        self.extra = extra or {}


class ValidationFailed(AppError):
    status_code = 400
    code = "validation_error"

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", fields=[FieldError(field=field, message=message)])


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, retry_after_s))})
        super().__init__(message, **kwargs)


class UpstreamError(AppError):
    """A cloud answered with an error the user must act on (bad credentials, no access)."""

    status_code = 502
    code = "upstream_error"


def error_response(
    status_code: int,
    message: str,
    code: str,
    *,
    fields: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "code": code}
    if fields is not None:
        body["fields"] = [f.model_dump() for f in fields]
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status_code, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_fields(errors: list[Any]) -> list[FieldError]:
    fields: list[FieldError] = []
    for err in errors:
        message = str(err.get("msg", "invalid value"))
        # Never echo the rejected input: it may be a secret typed into the wrong field.
        fields.append(FieldError(field=_field_path(tuple(err.get("loc", ()))), message=message))
    return fields


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(
        exc.status_code,
        exc.message,
        exc.code,
        fields=exc.fields,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "request body is not valid JSON", "invalid_json")
    fields = validation_fields(errors)
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return error_response(400, f"invalid request: {summary}", "validation_error", fields=fields)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = "no such resource"
    if exc.status_code == 405:
        message = "method not allowed on this resource"
    return error_response(exc.status_code, message, code, headers=getattr(exc, "headers", None))


# SQLSTATEs that mean "the client's text cannot be stored", not a server fault.
_CLIENT_DATA_ERRORS = {
    "22021": "text must be valid UTF-8 without NUL characters",  # character_not_in_repertoire
    "22P05": "text must be valid UTF-8 without NUL characters",  # untranslatable_character
    "22001": "a value is longer than its field allows",  # string_data_right_truncation
}


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """Input the database refuses (a NUL byte, an over-long value) is the client's 400."""
    message = _CLIENT_DATA_ERRORS.get(_sqlstate(exc) or "")
    if message is not None:
        return error_response(400, message, "invalid_text")
    return await _unhandled(request, exc)


POOL_RETRY_AFTER_S = 2


async def _pool_exhausted(_: Request, exc: Exception) -> JSONResponse:
    """Every pooled connection busy past ``CUDLY_DB_POOL_TIMEOUT_S``: overload, not a fault."""
    logger.warning("database connection pool exhausted", extra={"error_type": type(exc).__name__})
    return error_response(
        503,
        "the server is busy: retry shortly",
        "unavailable",
        headers={"Retry-After": str(POOL_RETRY_AFTER_S)},
    )


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    # The exception type and frames only: messages may carry SQL, bound values or secrets
    # (a driver quotes the argument it could not encode, whatever hide_parameters says).
    logger.error(
        "unhandled error",
        extra={
            "error_type": type(exc).__name__,
            "sqlstate": _sqlstate(exc),
            "stack": "".join(traceback.format_tb(exc.__traceback__)),
        },
    )
    return error_response(500, "internal server error", "internal")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_exception_handler(Exception, _unhandled)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid input"},
    401: {"model": ErrorBody, "description": "Not authenticated"},
    403: {"model": ErrorBody, "description": "Missing permission or account outside scope"},
    404: {"model": ErrorBody, "description": "Not found"},
    409: {"model": ErrorBody, "description": "Conflict with the current state"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    429: {"model": ErrorBody, "description": "Rate limited; see Retry-After"},
    # Declared so a generated SDK parses these bodies too (SPEC §2: every 4xx/5xx has one).
    500: {"model": ErrorBody, "description": "Internal error (nothing internal in the body)"},
    503: {"model": ErrorBody, "description": "Database or credential key unavailable"},
}
