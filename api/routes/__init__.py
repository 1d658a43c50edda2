"""Routers: thin over the services in ``api/`` (parse, call one service, shape the response)."""

from __future__ import annotations

from typing import Any

from api.schemas import ErrorResponse

_DESCRIPTIONS = {
    400: "Invalid request, or rejected by a guardrail.",
    401: "Missing or invalid credential (API key, scoped key, JWT, widget token).",
    403: "The credential may not do this: a role it lacks, or a collection it may not use.",
    404: "Collection, document, job or answer not found.",
    413: "Request body or upload too large.",
    422: "The body does not match the schema.",
    429: "Rate limit exceeded; see `Retry-After`.",
    503: "A dependency (index, LLM, Redis) is unavailable.",
    504: "No answer within the deadline.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can return (all `ErrorResponse`)."""
    return {status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]} for status in statuses}
