"""Request plumbing: the app's services (straight from the app state) and the documented security schemes.

Routes take ``request: Request`` and call ``services_of(request)`` rather than a FastAPI
dependency: a sync dependency runs in the thread pool, and every resolution step costs time
that, on a cache hit, was most of the request. Auth is ``api.middleware.AuthGate``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.services import Services
from core.access import OPEN, Principal

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "`Authorization: Bearer <API key>` (what OpenAI SDKs send)."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The API key, as a header."},
}  # fmt: skip
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc",
                          "/openapi.json"})  # fmt: skip


def principal_of(request: Request) -> Principal:
    """The caller, as ``api.middleware.AuthGate`` identified it (public paths: the open principal)."""
    principal: Principal = request.scope.get("state", {}).get("principal", OPEN)
    return principal


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
