"""The one mapping from error codes to HTTP statuses, and the error body's shape."""

from __future__ import annotations

import json

import pytest

from api.errors import (
    AnswerTimeout,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    error_response,
    status_for,
)
from core.errors import (
    CollectionMismatch,
    ConfigurationError,
    DocumentTooLarge,
    GuardrailViolation,
    IndexLocked,
    IndexUnavailable,
    InvalidRequest,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    NotFound,
    ParseError,
    RagqaError,
    StoreUnavailable,
    UnsupportedFormat,
)


@pytest.mark.parametrize(("error", "status"), [
    (InvalidRequest("x"), 400),
    (GuardrailViolation("x"), 400),
    (UnsupportedFormat("x"), 415),  # a file type nothing parses: Unsupported Media Type
    (ParseError("x"), 400),
    (Unauthorized("x"), 401),
    (NotFound("x"), 404),
    (CollectionMismatch("x"), 409),
    (DocumentTooLarge("x"), 413),
    (PayloadTooLarge("x"), 413),
    (RateLimited("x", 1.0), 429),
    (ConfigurationError("x"), 500),
    (RagqaError("x"), 500),
    (LLMError("x"), 502),
    (LLMUnavailable("x"), 503),
    (IndexUnavailable("x"), 503),
    (IndexLocked("x"), 503),
    (StoreUnavailable("x"), 503),
    (LLMTimeout("x"), 504),
    (AnswerTimeout("x"), 504),
])  # fmt: skip
def test_status_for(error: RagqaError, status: int) -> None:
    assert status_for(error) == status


def test_error_body_shape() -> None:
    response = error_response(NotFound("job 'x' does not exist"))
    assert response.status_code == 404
    assert json.loads(bytes(response.body)) == {"error": {"code": "not_found", "message": "job 'x' does not exist"}}


@pytest.mark.parametrize(("retry_after_s", "header"), [(0.2, "1"), (1.0, "1"), (1.01, "2"), (59.5, "60")])
def test_rate_limited_sets_retry_after_in_whole_seconds_rounded_up(retry_after_s: float, header: str) -> None:
    response = error_response(RateLimited("slow down", retry_after_s))
    assert response.status_code == 429
    assert response.headers["retry-after"] == header
