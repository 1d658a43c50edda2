"""Pure-ASGI middleware (cheaper than BaseHTTPMiddleware, and safe with streaming responses).

- ``AuthGate``: the caller's credential (``api.security.Authenticator``: an API key, a scoped key,
  a JWT; or a widget token) and its rate limit on every path but the public ones (401 / 429 in the
  usual error shape); the principal goes in the request's state for the routes to check. A
  middleware, not a dependency, so that no route can be added unprotected by forgetting it, and a
  cache hit does not pay for dependency injection. A key with a daily token quota is refused its
  questions once it has used them (429 ``quota_exceeded``; one Redis read, for such keys only).

- ``BodyLimit``: 413 for a body over the limit, from ``Content-Length`` before anything is
  read, or while reading a chunked body.
- ``RequestMetrics``: per-route latency histogram, measured until the last byte is sent (so a
  stream counts whole); and a request id (the client's ``X-Request-ID`` or a new one), bound to
  every log line of the request and echoed in the response.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Collection

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body, error_response
from api.metrics import Metrics
from api.widget_tokens import presented_widget_token
from core.access import OPEN, Principal
from core.errors import RagqaError

_SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]+")
# A visitor through a widget token: asks only, in the token's collections (checked at admission),
# and reads only documents open to everyone (the space keeps "user:widget visitor" out of any ACL).
WIDGET_VISITOR = Principal("widget visitor", "widget", roles=frozenset({"ask"}))
ANSWER_PATHS = frozenset({"/ask", "/chat", "/v1/chat/completions"})  # what spends a key's daily tokens


class AuthGate:
    """401 without a valid key (when keys are configured), 429 past the caller's rate limit.

    A request with a widget token (``X-Widget-Token``) is checked by ``app.state.widget`` instead:
    its origin, route and collection (403), and the token's and the visitor's rate limits.

    Example::

        app.add_middleware(AuthGate, public={"/healthz", "/readyz"})   # every other path is gated
    """

    def __init__(self, app: ASGIApp, public: Collection[str]) -> None:
        self.app = app
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = getattr(scope["app"].state, "services", None) if scope["type"] == "http" else None
        if services is None or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        try:
            headers = Headers(scope=scope)
            widget_token = presented_widget_token(headers)
            if widget_token is not None:  # a public widget token: its own checks and limits (api/widget_tokens.py)
                receive = await scope["app"].state.widget.admit(scope, receive, widget_token, services)
                principal = WIDGET_VISITOR
            else:
                principal = await services.auth.authenticate(headers)
                if principal is OPEN:
                    client = scope.get("client")
                    identity = f"addr:{client[0] if client else 'unknown'}"
                else:
                    identity = f"{principal.kind}:{principal.name}"
                await services.limiter.check(identity)
                if principal.daily_tokens is not None and scope["path"] in ANSWER_PATHS:
                    await services.signals.check_quota(principal)
            scope.setdefault("state", {})["principal"] = principal
        except RagqaError as exc:
            await error_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Rejects request bodies over ``limit_for(path)`` bytes with 413 ``payload_too_large``.

    Example::

        app.add_middleware(BodyLimit, limit_for=lambda path: 50 * 2**20 if path == "/documents" else 2**20)
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False  # the server rejects a malformed length itself
            if too_big:
                await _reject(send, limit)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised into whatever is reading the body; FastAPI re-raises HTTPException as is.
                    raise HTTPException(413, f"the request body is larger than {limit} bytes")
            return message

        await self.app(scope, counted, send)


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps(error_body("payload_too_large", f"the request body is larger than {limit} bytes")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def _request_id(given: bytes | None) -> str:
    """The client's id when it is short and plain (it goes into logs and headers), else a new one."""
    if given and len(given) <= 64 and _SAFE_ID.fullmatch(given):
        return given.decode()
    return uuid.uuid4().hex


class RequestMetrics:
    """Observes ``ragqa_http_request_duration_seconds{route, method, status}``; tags logs with a request id."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = _request_id(dict(scope["headers"]).get(b"x-request-id"))
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            route = scope.get("route")
            # The route template, not the raw path: /jobs/{job_id}, never one series per id.
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.http_latency.labels(route=label, method=scope["method"], status=str(status)).observe(
                time.perf_counter() - started
            )
