"""The FastAPI app factory: one composition root of the service.

Example::

    app = create_app(Settings())
    uvicorn.run(app, host="127.0.0.1", port=8000)

Tests pass ``components`` built on a temporary store; the app then leaves closing them to
the caller. Without it, the lifespan builds ``Components(settings)`` and closes them at
shutdown. The embedded Qdrant store admits one process: run one API process per store
(``ragqa serve`` does), or point ``RAGQA_QDRANT__URL`` at a server to scale out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.deps import PUBLIC_PATHS, SECURITY_SCHEMES
from api.errors import install_error_handlers
from api.metrics import Metrics
from api.middleware import AuthGate, BodyLimit, RequestMetrics
from api.routes import answers, documents, feedback, health, openai, widget
from api.services import build_services
from api.widget_tokens import WIDGET_TOKEN_HEADER, WidgetGate
from bootstrap.components import Components
from core.settings import Settings

DESCRIPTION = """\
Answers questions from your documents, citing exactly where.

- **Answers**: `POST /ask`, `POST /chat` (JSON or server-sent events) and an OpenAI-compatible
  `POST /v1/chat/completions` (the `model` is a collection; citations in an extension field).
- **Documents**: `POST /documents` (multipart) starts an ingestion job; follow it at `GET /jobs/{id}`.
- **Auth**: when API keys are configured, send `Authorization: Bearer <key>` (or `X-API-Key`).
  `/healthz`, `/readyz`, `/metrics` and these docs are public.
- **Chat widget**: `GET /widget.js` embeds it on any page whose origin a widget token allows (the token goes
  in `X-Widget-Token` and reaches only `/ask`, `/chat`, `/feedback`); `GET /` is a demo page.
- **Errors**: always `{"error": {"code": ..., "message": ...}}` with the HTTP status.
"""


def create_app(settings: Settings, components: Components | None = None) -> FastAPI:
    """A ready-to-serve app; parts load during startup (the lifespan), not per request."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts = components or Components(settings)
        try:
            app.state.services = await build_services(settings, parts, metrics)
            try:
                yield
            finally:
                await app.state.services.aclose()
        finally:
            if components is None:  # ours to close; given parts belong to the caller
                await anyio.to_thread.run_sync(parts.close)

    app = FastAPI(title="ragqa", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)

    api = settings.api
    app.state.public_paths = set(PUBLIC_PATHS) | widget.WIDGET_PATHS  # read live: tests/benchmarks may add to it
    app.state.widget = WidgetGate(settings)  # widget tokens: checked by the AuthGate, origins join CORS
    app.add_middleware(AuthGate, public=app.state.public_paths)  # innermost: CORS preflights pass first
    app.add_middleware(BodyLimit, limit_for=lambda path: api.max_upload_bytes if path == "/documents"
                       else api.max_body_bytes)  # fmt: skip
    if app.state.widget.cors_origins:  # api.cors_origins and every widget token's origins
        app.add_middleware(CORSMiddleware, allow_origins=app.state.widget.cors_origins,
                           allow_methods=["GET", "POST", "DELETE"], expose_headers=["Retry-After", "X-Request-ID"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "Accept",
                                          WIDGET_TOKEN_HEADER])  # fmt: skip
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: times everything, 413s included

    for module in (health, answers, openai, documents, feedback, widget):
        app.include_router(module.router)
    _document_security(app, public=app.state.public_paths)
    return app


def _document_security(app: FastAPI, public: set[str]) -> None:
    """The API-key schemes in the OpenAPI schema (the gate is a plain dependency, see api/deps.py)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, operations in schema.get("paths", {}).items():
                if path not in public:
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}, {"apiKey": []}]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
