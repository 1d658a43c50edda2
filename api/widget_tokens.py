"""Widget tokens: public tokens bound to the origins of the pages that embed the chat widget.

A token sits in a page's HTML, so anyone can read it; what it is worth comes from checks the
browser cannot be talked out of. On every widget request (header ``X-Widget-Token``) the
gate checks, in order:

1. the token is configured (else 401 ``invalid_widget_token``);
2. the route is one the widget uses, ``POST /ask``, ``/chat``, ``/feedback`` or ``/events`` (else 403
   ``widget_route_not_allowed``: a token never reaches uploads, jobs or deletes);
3. the browser's ``Origin`` is one of the token's origins, or the API's own (its demo page)
   (else 403 ``origin_not_allowed``);
4. the collection asked is one of the token's (else 403 ``collection_not_allowed``);
5. the token's own rate limit and one per visitor (client address) and token (429).

Example::

    gate = WidgetGate(settings)
    receive = await gate.admit(scope, receive, presented_widget_token(headers), services)  # raises
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

from api.services import Services
from core.errors import Forbidden, InvalidRequest, PayloadTooLarge, RagqaError, Unauthorized
from core.settings import Settings
from core.widget_settings import WidgetToken, normalize_origin
from state.rate_limit import RateLimiter

log = structlog.get_logger(__name__)

WIDGET_TOKEN_HEADER = "X-Widget-Token"
WIDGET_ROUTES = frozenset({("POST", "/ask"), ("POST", "/chat"), ("POST", "/feedback"), ("POST", "/events")})
_ASKING_ROUTES = frozenset({"/ask", "/chat"})  # the ones whose body names a collection
# A cited source's text, for the widget's source view; its collection is in the query string.
_SOURCE_TEXT = re.compile(r"/documents/.+/text")


class WidgetDenied(Forbidden):
    """The token is valid but does not allow this request: 403."""


class OriginNotAllowed(WidgetDenied):
    code = "origin_not_allowed"


class CollectionNotAllowed(WidgetDenied):
    code = "collection_not_allowed"


class RouteNotAllowed(WidgetDenied):
    code = "widget_route_not_allowed"


class InvalidWidgetToken(Unauthorized):
    code = "invalid_widget_token"


class WidgetTokenRequired(Unauthorized):
    code = "widget_token_required"


def presented_widget_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get(WIDGET_TOKEN_HEADER.lower())
    return value.strip() if value and value.strip() else None


def request_origin(headers: Mapping[str, str]) -> str | None:
    """The normalized ``Origin`` header; ``"null"`` (sandboxed frames, files) and junk are kept as is."""
    origin = headers.get("origin")
    if not origin:
        return None
    try:
        return normalize_origin(origin)
    except ValueError:
        return origin.strip()


def own_origin(scope: Scope) -> str | None:
    """The API's own origin as the browser saw it (scheme + ``Host``), i.e. the demo page's."""
    host = Headers(scope=scope).get("host")
    if not host:
        return None
    try:
        return normalize_origin(f"{scope.get('scheme', 'http')}://{host}")
    except ValueError:
        return None


def token_id(token: str) -> str:
    """A short digest naming the token in Redis keys and logs (the token itself is not logged)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class WidgetGate:
    """The configured tokens and their checks; ``app.state.widget`` while the app runs.

    Example::

        token = gate.authorize("pk_...", origin="https://www.example.com", own=None, collection="docs")
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.widget
        self.default_collection = settings.ingest.default_collection
        self.cors_origins = list(dict.fromkeys([*settings.api.cors_origins, *self.settings.origins()]))
        self._tokens = {t.token: t for t in self.settings.tokens}
        self._services: Services | None = None
        self._token_limiters: dict[str, RateLimiter] = {}
        self._visitor_limiter: RateLimiter | None = None

    @property
    def demo_collection(self) -> str:
        return self.settings.demo_collection or self.default_collection

    def demo_token(self) -> WidgetToken | None:
        """The token the demo page embeds: the first that may ask the demo collection."""
        return next((t for t in self.settings.tokens if self.demo_collection in t.collections), None)

    def authorize(self, presented: str, origin: str | None, own: str | None, collection: str | None) -> WidgetToken:
        """The token, if it allows this origin and collection; raises the error the widget shows."""
        token = self._tokens.get(presented)
        if token is None:
            raise InvalidWidgetToken("this widget token is not valid: check the page's data-token")
        if origin is None:
            raise OriginNotAllowed("a widget request must carry the Origin header that browsers send")
        if origin not in token.origins and origin != own:
            raise OriginNotAllowed(f"this widget is not allowed on {origin}: add the origin to the token's "
                                   "allowed origins (widget.tokens) on the server")  # fmt: skip
        wanted = collection or self.default_collection
        if wanted not in token.collections:
            raise CollectionNotAllowed(f"this widget token may not ask collection {wanted!r}")
        return token

    def check_tokenless(self, origin: str | None, own: str | None, keys_enabled: bool) -> None:
        """A widget without a token works only while API keys are off, from an origin CORS lets in."""
        if keys_enabled:
            raise WidgetTokenRequired("this server needs a widget token: set data-token on the widget's script tag")
        if origin is not None and origin != own and origin not in self.cors_origins:
            raise OriginNotAllowed(f"this widget is not allowed on {origin}: add the origin to the server's "
                                   "api.cors_origins, or use a widget token that allows it")  # fmt: skip

    async def admit(self, scope: Scope, receive: Receive, presented: str, services: Services) -> Receive:
        """Checks a widget request before it reaches its route; returns the ``receive`` to pass on.

        For ``/ask`` and ``/chat`` the body is read here (it is small: ``BodyLimit`` runs first) to
        learn the collection, then replayed to the route.
        """
        if not self.settings.enabled:
            raise InvalidWidgetToken("widget tokens are disabled on this server (widget.enabled)")
        reads_source = scope["method"] == "GET" and _SOURCE_TEXT.fullmatch(scope["path"]) is not None
        if (scope["method"], scope["path"]) not in WIDGET_ROUTES and not reads_source:
            raise RouteNotAllowed("a widget token may only ask questions, send feedback and read a cited "
                                  "source (POST /ask, /chat, /feedback, /events; GET /documents/{id}/text); "
                                  "other routes need an API key")  # fmt: skip
        collection = None
        if scope["path"] in _ASKING_ROUTES:
            collection, receive = await _read_collection(receive)
        elif reads_source:  # the source view opens a citation's document: the token's collections only
            # RequestGuard has refused a repeated parameter: this is the one value the route reads too.
            values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("collection") or [None]
            if len(values) > 1:
                raise InvalidRequest("query parameter 'collection' given more than once")
            collection = values[0]
        origin = request_origin(Headers(scope=scope))
        try:
            token = self.authorize(presented, origin, own_origin(scope), collection)
        except RagqaError as exc:  # what a site owner asks the operator about: say which token, where
            log.info("widget.denied", code=exc.code, token=token_id(presented), origin=origin, path=scope["path"])
            raise
        per_token, per_visitor = self._limiters(token, services)
        client = scope.get("client")
        tid = token_id(token.token)
        await per_visitor.check(f"widget:{tid}:{client[0] if client else 'unknown'}")
        await per_token.check(f"widget:{tid}")
        return receive

    def _limiters(self, token: WidgetToken, services: Services) -> tuple[RateLimiter, RateLimiter]:
        """Built on first use: they need the running app's Redis; rebuilt if the app restarted."""
        if self._services is not services or self._visitor_limiter is None:
            prefix = services.settings.redis.key_prefix
            self._token_limiters = {
                t.token: RateLimiter(services.guarded, services.metrics, prefix=prefix,
                                     per_minute=t.rate_limit_per_minute, burst=t.rate_limit_burst)
                for t in self.settings.tokens
            }  # fmt: skip
            self._visitor_limiter = RateLimiter(services.guarded, services.metrics, prefix=prefix,
                                                per_minute=self.settings.visitor_rate_limit_per_minute,
                                                burst=self.settings.visitor_rate_limit_burst)  # fmt: skip
            self._services = services
        return self._token_limiters[token.token], self._visitor_limiter


async def _read_collection(receive: Receive) -> tuple[str | None, Receive]:
    """The body's ``collection`` (None when absent or not JSON: the route then answers 422) and a replay."""
    chunks: list[bytes] = []
    while True:
        try:
            message = await receive()
        except HTTPException as exc:  # BodyLimit counting a chunked body past the limit
            raise PayloadTooLarge(str(exc.detail)) from exc
        if message["type"] != "http.request":
            return None, _replay([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    try:
        data = json.loads(body, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:  # the route would read the last one: refuse rather than guess
        raise InvalidRequest(f"the request body gives {exc.key!r} more than once") from exc
    except ValueError:
        data = None
    collection = data.get("collection") if isinstance(data, dict) else None
    replayed: Message = {"type": "http.request", "body": body, "more_body": False}
    return (collection if isinstance(collection, str) else None), _replay([replayed], receive)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """Hands out the messages already read, then the real ``receive`` (a streaming route waits on it
    for the client's disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
