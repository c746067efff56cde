"""Every error the service answers is JSON: ``{"error": {"message", "type", "hint"}}``, never a traceback.

The app's own :class:`BabelragError` hierarchy maps to a status and a type; validation errors say
which field was wrong; anything else is logged with its traceback on the server and answered as a
500 with a generic message (the traceback may hold paths and data the client must not see).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from babelrag.stores.errors import (
    BabelragError,
    ConfigError,
    GenerationError,
    ModelError,
    StoreError,
    TemplateError,
    UnreadableFileError,
)

log = logging.getLogger("babelrag.service")


class ServiceError(BabelragError):
    """An error with its HTTP status and error type."""

    status = 400
    type = "invalid_request_error"
    headers: dict[str, str] | None = None


class NotFoundError(ServiceError):
    status = 404
    type = "not_found_error"


class AuthenticationError(ServiceError):
    status = 401
    type = "authentication_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
        self.headers = {"WWW-Authenticate": "Bearer"}


class TooLargeError(ServiceError):
    status = 413
    type = "request_too_large"


class UnsupportedFileError(ServiceError):
    status = 415
    type = "unsupported_file_type"


class QueueFullError(ServiceError):
    status = 503
    type = "overloaded_error"
    retry_after_s = 2

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the generator is busy: {size} requests are already waiting",
            hint=f"retry in a few seconds (Retry-After), or raise service.queue_size (now {size})",
        )
        self.headers = {"Retry-After": str(self.retry_after_s)}


class RequestTimeoutError(ServiceError):
    status = 504
    type = "timeout_error"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the request took longer than {seconds:g} s and was stopped",
            hint="raise service.request_timeout_s, or ask for fewer passages / shorter answers",
        )


def classify(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and error type of an exception."""
    if isinstance(exc, ServiceError):
        return exc.status, exc.type
    if isinstance(exc, ModelError):
        return 503, "model_error"
    if isinstance(exc, GenerationError | TemplateError):
        return 500, "model_error"
    if isinstance(exc, ConfigError | StoreError | UnreadableFileError | BabelragError):
        return 400, "invalid_request_error"
    return 500, "internal_error"


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON body for ``exc`` (also sent as an SSE ``error`` event)."""
    _, kind = classify(exc)
    if isinstance(exc, BabelragError):
        return {"error": {"message": exc.message, "type": kind, "hint": exc.hint}}
    log.error("internal error", exc_info=exc)
    return {"error": {"message": "internal server error (details are in the server log)", "type": kind}}


def error_response(exc: BaseException) -> JSONResponse:
    status, _ = classify(exc)
    headers = getattr(exc, "headers", None) if isinstance(exc, ServiceError) else None
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def babelrag_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        body = {"error": {"message": "; ".join(problems), "type": "invalid_request_error", "hint": None}}
        return JSONResponse(body, status_code=422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = {401: "authentication_error", 404: "not_found_error", 405: "invalid_request_error"}.get(
            exc.status_code, "invalid_request_error" if exc.status_code < 500 else "internal_error"
        )
        body = {"error": {"message": str(exc.detail), "type": kind, "hint": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    app.add_exception_handler(BabelragError, babelrag_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
