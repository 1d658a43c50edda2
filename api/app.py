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
from importlib import resources
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse
from fastapi_offline import FastAPIOffline

from api.deps import PUBLIC_PATHS, SECURITY_SCHEMES
from api.errors import install_error_handlers
from api.metrics import Metrics
from api.middleware import AuthGate, BodyLimit, RequestMetrics
from api.request_guard import RequestGuard
from api.routes import answers, collections, documents, events, feedback, health, openai, widget
from api.services import build_services
from api.tracing import instrument_app
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
  in `X-Widget-Token` and reaches only `/ask`, `/chat`, `/feedback`, `/events`); `GET /` is a demo page.
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

    # /docs and /redoc load Swagger UI and ReDoc from this server (fastapi-offline ships them), not a CDN:
    # the docs work on an air-gapped host and send no visitor to a third party.
    app = FastAPIOffline(title="ragqa", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                         static_url=DOCS_ASSETS, redoc_url=None)
    _serve_redoc(app)
    install_error_handlers(app)

    api = settings.api
    # Read live: tests/benchmarks may add to it.
    app.state.public_paths = set(PUBLIC_PATHS) | widget.WIDGET_PATHS | docs_asset_paths()
    app.state.widget = WidgetGate(settings)  # widget tokens: checked by the AuthGate, origins join CORS
    app.add_middleware(AuthGate, public=app.state.public_paths)  # innermost: CORS preflights pass first
    # Before any credential is read: one value per parameter, no state change from another site's page.
    app.add_middleware(RequestGuard, allowed_origins=api.cors_origins)
    app.add_middleware(BodyLimit, limit_for=lambda path: api.max_upload_bytes if path == "/documents"
                       else api.max_body_bytes)  # fmt: skip
    if app.state.widget.cors_origins:  # api.cors_origins and every widget token's origins
        app.add_middleware(CORSMiddleware, allow_origins=app.state.widget.cors_origins,
                           allow_methods=["GET", "POST", "DELETE"], expose_headers=["Retry-After", "X-Request-ID"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "Accept",
                                          WIDGET_TOKEN_HEADER])  # fmt: skip
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: times everything, 413s included

    for module in (health, answers, openai, documents, collections, feedback, events, widget):
        app.include_router(module.router)
    _document_security(app, public=app.state.public_paths)
    instrument_app(app, settings.tracing)  # outermost, when tracing is on: a span per request
    return app


DOCS_ASSETS = "/docs-assets"


def docs_asset_paths() -> set[str]:
    """The URLs of the docs pages' scripts and styles: public, like the pages that load them."""
    folder = resources.files("fastapi_offline").joinpath("static")
    return {f"{DOCS_ASSETS}/{entry.name}" for entry in folder.iterdir() if entry.is_file()}


def _serve_redoc(app: FastAPI) -> None:
    """`/redoc` from the local bundle. Its "powered by" badge is an image on Redocly's CDN: a
    Content-Security-Policy keeps the browser from fetching it (the page renders without it)."""

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title="ragqa - ReDoc",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page


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
