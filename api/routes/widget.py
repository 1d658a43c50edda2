"""The chat widget's files, its config check, and the demo page at `GET /`.

- ``GET /widget.js``, ``GET /widget.css``: the widget (plain JS and CSS, no build step), cached
  by browsers for five minutes and revalidated by ETag, loadable from any site.
- ``GET /widget/evidence.js``: the ES module ``widget.js`` imports to show a source's passage with
  the quoted sentence marked (and ``GET /widget/markdown.js``, which it imports to draw markdown as
  elements); ``GET /widget/source.js``, the one that shows the cited span in its
  document's text (from ``GET /documents/{id}/text``). A module is fetched in CORS mode, so the files carry
  ``Access-Control-Allow-Origin: *`` (they are public, and no credentials go with them).
- ``GET /widget/config?token=&collection=``: what the widget checks when its panel first opens.
  A simple GET (no preflight) answered with ``Access-Control-Allow-Origin: *``, so a widget on a
  page the token does not allow can read *why* (``origin_not_allowed``) and say so, instead of
  failing the CORS preflight of its first question with a bare network error. It reveals only
  whether a token may be used from an origin, which the token's owner publishes anyway.
- ``GET /``: the demo page, the widget over the demo collection (the sample docs the README
  ingests), with a Content-Security-Policy that admits only this server's own scripts.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import services_of
from api.errors import error_response
from api.routes import errors
from api.schemas import ErrorResponse
from api.services import Services
from api.widget_tokens import WidgetGate, own_origin, request_origin
from core.errors import NotFound, RagqaError

router = APIRouter(tags=["widget"])

WIDGET_PATHS = frozenset({"/", "/widget.js", "/widget.css", "/widget/evidence.js", "/widget/markdown.js",
                          "/widget/source.js", "/widget/config", "/widget/demo.js", "/widget/demo.css"})
_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
_DEMO_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    etag: str
    media_type: str


@lru_cache(maxsize=8)
def _asset(name: str) -> _Asset:
    """A file of ``api/widget/``, read once per process (they change only with a deploy)."""
    body = resources.files("api.widget").joinpath(name).read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return _Asset(body, etag, _TYPES.get(name.rsplit(".", 1)[-1], "text/html; charset=utf-8"))


def _gate(request: Request) -> WidgetGate:
    gate: WidgetGate = request.app.state.widget
    if not gate.settings.enabled:
        raise NotFound("the widget is disabled on this server (widget.enabled)")
    return gate


def _serve(request: Request, name: str) -> Response:
    _gate(request)
    asset = _asset(name)
    headers = {"ETag": asset.etag, "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff",
               "Cross-Origin-Resource-Policy": "cross-origin", "Access-Control-Allow-Origin": "*"}  # fmt: skip
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/widget.js", include_in_schema=False)
async def widget_js(request: Request) -> Response:
    return _serve(request, "widget.js")


@router.get("/widget.css", include_in_schema=False)
async def widget_css(request: Request) -> Response:
    return _serve(request, "widget.css")


@router.get("/widget/evidence.js", include_in_schema=False)
async def evidence_js(request: Request) -> Response:
    return _serve(request, "evidence.js")


@router.get("/widget/markdown.js", include_in_schema=False)
async def markdown_js(request: Request) -> Response:
    return _serve(request, "markdown.js")


@router.get("/widget/source.js", include_in_schema=False)
async def source_js(request: Request) -> Response:
    return _serve(request, "source.js")


@router.get("/widget/demo.js", include_in_schema=False)
async def demo_js(request: Request) -> Response:
    return _serve(request, "demo.js")


@router.get("/widget/demo.css", include_in_schema=False)
async def demo_css(request: Request) -> Response:
    return _serve(request, "demo.css")


_CONFIG_DOC = {"description": "The widget may ask from this page.", "content": {"application/json": {"example": {
    "collection": "docs", "max_question_chars": 2000}}}}  # fmt: skip
_FORBIDDEN_DOC: dict[int | str, dict[str, Any]] = {403: {
    "model": ErrorResponse,
    "description": "`origin_not_allowed` or `collection_not_allowed`: the token does not allow it.",
}}  # fmt: skip


@router.get("/widget/config", summary="Whether a widget token may be used from the calling page",
            responses={200: _CONFIG_DOC, **errors(401), **_FORBIDDEN_DOC})  # fmt: skip
async def widget_config(request: Request, token: str | None = None, collection: str | None = None) -> Any:
    """The browser's `Origin` against the token's allowed origins and collections (no Origin: a same-origin page)."""
    cors = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store", "Vary": "Origin"}
    services = services_of(request)
    try:
        gate = _gate(request)
        origin, own = request_origin(request.headers), own_origin(request.scope)
        if token:
            # No Origin on a same-origin GET: only the real requests (POSTs, which carry it) must have one.
            gate.authorize(token, origin or own, own, collection)
        else:
            gate.check_tokenless(origin, own, services.auth.enabled)
    except RagqaError as exc:
        response = error_response(exc)
        response.headers.update(cors)
        return response
    body = {"collection": collection or gate.default_collection,
            "max_question_chars": services.settings.guardrails.max_question_chars}  # fmt: skip
    return JSONResponse(body, headers=cors)


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)  # HEAD: uptime checks
async def demo_page(request: Request) -> Response:
    gate = _gate(request)
    if not gate.settings.demo_page:
        raise NotFound("the demo page is off (widget.demo_page); the widget is at /widget.js")
    services = services_of(request)
    collection, token = gate.demo_collection, gate.demo_token()
    notice = ""
    if token is None and services.auth.enabled:
        notice = (f"API keys are on, and no widget token may ask collection '{collection}': add one to "
                  "RAGQA_WIDGET__TOKENS (see docs/deploy.md) for this demo to answer.")  # fmt: skip
    elif not await _has_collection(services, collection):
        notice = f"Collection '{collection}' has no documents yet: ingest the samples first (ragqa ingest docs/)."
    base = str(request.base_url).rstrip("/")
    embed = (f'<script src="{base}/widget.js" data-collection="{collection}" '
             f'data-token="{token.token if token else "YOUR-WIDGET-TOKEN"}" async></script>')  # fmt: skip
    values = {"collection": collection, "token": token.token if token else "", "notice": notice, "embed": embed,
              "notice_hidden": "" if notice else "hidden"}  # fmt: skip
    page = _asset("demo.html").body.decode()
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value, quote=True))
    return HTMLResponse(page, headers={"Content-Security-Policy": _DEMO_CSP, "X-Content-Type-Options": "nosniff",
                                       "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})  # fmt: skip


async def _has_collection(services: Services, name: str) -> bool:
    try:
        return name in await services.documents.names()
    except RagqaError:  # the index is down: the page still loads, and the widget will say so when asked
        return True
