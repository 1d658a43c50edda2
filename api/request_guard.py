"""Checks every request gets before its credentials are read: one value per parameter, and no
state change ordered by another site's page.

- **One value per parameter.** A credential check and the route must read the same value: with
  ``?collection=docs&collection=secret`` a check that read the first and a route that read the
  last let a widget token for ``docs`` read ``secret``. A repeated query parameter is a 400
  ``invalid_request``, except those that are lists by design (``tag``).
- **No cross-site writes.** A page on any site can make a browser send a multipart form
  (``POST /documents``) or a JSON body labelled ``text/plain`` without a CORS preflight, and the
  browser does not need to read the answer for the damage to be done. So a browser request that
  changes state (POST, PUT, PATCH, DELETE) is accepted only from the API's own pages, or an origin
  in ``api.cors_origins``, with API keys or without: 403 ``cross_site_request`` otherwise. A
  browser is known by the ``Origin`` or ``Sec-Fetch-Site`` header it sends on every such request
  and that no page can forge; a client that sends neither (curl, SDKs, the CLI) is not a browser
  and is left to the API key. Widget requests (``X-Widget-Token``) have their token's own origins
  checked by ``api.widget_tokens.WidgetGate``, and a token can never reach a write route.

Example::

    app.add_middleware(RequestGuard, allowed_origins=settings.api.cors_origins)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from urllib.parse import parse_qsl

import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from api.widget_tokens import own_origin, presented_widget_token, request_origin
from core.errors import Forbidden, InvalidRequest
from core.widget_settings import normalize_origin

log = structlog.get_logger(__name__)

# Query parameters that are lists by design (GET /documents?tag=a=1&tag=b=2): every value is used.
REPEATABLE_PARAMETERS = frozenset({"tag"})
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sec-Fetch-Site values a browser sends for a request its own page (or the user) made.
_SAME_SITE_FETCH = frozenset({"same-origin", "none"})


class CrossSiteRequest(Forbidden):
    code = "cross_site_request"


def repeated_parameters(query_string: bytes) -> list[str]:
    """Names given more than once in a query string, less the repeatable ones.

    >>> repeated_parameters(b"collection=docs&collection=secret&tag=a=1&tag=b=2")
    ['collection']
    """
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    counts = Counter(name for name, _ in pairs)
    return sorted(name for name, count in counts.items() if count > 1 and name not in REPEATABLE_PARAMETERS)


def _normalized(origins: Iterable[str]) -> frozenset[str]:
    out = set()
    for origin in origins:
        try:
            out.add(normalize_origin(origin))
        except ValueError:
            continue  # a malformed allowlist entry allows nothing
    return frozenset(out)


class RequestGuard:
    """400 for a repeated parameter, 403 for a state change a browser sent from another site."""

    def __init__(self, app: ASGIApp, allowed_origins: Collection[str] = ()) -> None:
        self.app = app
        self.allowed_origins = _normalized(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        repeated = repeated_parameters(scope.get("query_string", b""))
        if repeated:
            names = ", ".join(repr(n) for n in repeated)
            await error_response(InvalidRequest(f"query parameter {names} given more than once: give each "
                                                "parameter once"))(scope, receive, send)  # fmt: skip
            return
        if scope["method"] in STATE_CHANGING_METHODS:
            refusal = self._cross_site(scope)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _cross_site(self, scope: Scope) -> CrossSiteRequest | None:
        headers = Headers(scope=scope)
        if presented_widget_token(headers) is not None:
            return None  # the widget gate checks the token's origins, and keeps tokens off write routes
        origin = request_origin(headers)
        fetch_site = (headers.get("sec-fetch-site") or "").strip().lower()
        if origin is None and not fetch_site:
            return None  # not a browser: the API key (when keys are on) decides
        if origin is not None and (origin == own_origin(scope) or origin in self.allowed_origins):
            return None
        if origin is None and fetch_site in _SAME_SITE_FETCH:
            return None
        where = origin or f"a {fetch_site or 'cross-site'} page"
        log.warning("request.cross_site_refused", origin=origin, fetch_site=fetch_site, path=scope["path"],
                    method=scope["method"])  # fmt: skip
        return CrossSiteRequest(f"a browser page on {where} may not {scope['method']} {scope['path']}: only the "
                                "API's own pages and the origins in api.cors_origins may change state")  # fmt: skip
