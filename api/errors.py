"""The one place where errors become HTTP responses: ``{"error": {"code": ..., "message": ...}}``.

``core.errors`` codes map to statuses here (the whole tree lives there, the API's own auth, rate
limit, size and deadline errors included). Anything unforeseen is logged with its traceback and answered as a bare 500:
never a stack trace to the client.

    >>> status_for(NotFound("no such job"))
    404
"""

from __future__ import annotations

import math
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    AnswerTimeout,
    CollectionMismatch,
    ConfigurationError,
    DocumentTooLarge,
    Forbidden,
    GuardrailViolation,
    IndexStoreError,
    IngestError,
    InvalidRequest,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    NotFound,
    PayloadTooLarge,
    RagqaError,
    RateLimited,
    Unauthorized,
    UnsupportedFormat,
)

log = structlog.get_logger(__name__)


# Most specific first: the first matching class decides.
_STATUS: tuple[tuple[type[RagqaError], int], ...] = (
    (Unauthorized, 401),
    (Forbidden, 403),
    (RateLimited, 429),
    (PayloadTooLarge, 413),
    (DocumentTooLarge, 413),
    (AnswerTimeout, 504),
    (LLMTimeout, 504),
    (LLMUnavailable, 503),
    (LLMError, 502),
    (NotFound, 404),
    (InvalidRequest, 400),
    (GuardrailViolation, 400),
    (UnsupportedFormat, 415),
    (IngestError, 400),
    (CollectionMismatch, 409),
    (ConfigurationError, 500),
)

_HTTP_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited"}


def status_for(exc: RagqaError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    if isinstance(exc, IndexStoreError) or exc.transient:
        return 503  # the index or a store is down or locked: try again later
    return 500


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(exc: RagqaError) -> JSONResponse:
    status = status_for(exc)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    if status >= 500:
        log.warning("api.error", code=exc.code, status=status, error=exc.message)
    return JSONResponse(error_body(exc.code, exc.message), status_code=status, headers=headers)


def describe_validation(exc: RequestValidationError) -> str:
    """One readable line per problem, e.g. ``body.top_k: Input should be less than or equal to 50``."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is invalid"


def install_error_handlers(app: FastAPI) -> None:
    async def on_ragqa(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagqaError)
        return error_response(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(error_body("validation_error", describe_validation(exc)), status_code=422)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unhandled", path=request.url.path, error_type=type(exc).__name__)
        return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)

    app.add_exception_handler(RagqaError, on_ragqa)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
