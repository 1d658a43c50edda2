"""The widget gate's decisions, without a server: token, origin, route, collection, and the body replay."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from api.errors import PayloadTooLarge, error_response
from api.widget_tokens import (
    CollectionNotAllowed,
    InvalidWidgetToken,
    OriginNotAllowed,
    RouteNotAllowed,
    WidgetGate,
    WidgetTokenRequired,
    _read_collection,
    own_origin,
    presented_widget_token,
    request_origin,
)
from core.settings import Settings

SITE = "https://shop.example"
TOKEN = "pk_unit_0123456789abcdef"
OTHER = "pk_other_0123456789abcdef"


@pytest.fixture
def gate() -> WidgetGate:
    return WidgetGate(Settings(
        _env_file=None,  # type: ignore[call-arg]
        api={"cors_origins": ["https://admin.example"]},
        widget={"tokens": [{"token": TOKEN, "origins": [SITE], "collections": ["docs", "faq"]},
                           {"token": OTHER, "origins": [SITE], "collections": ["faq"]}]},
    ))  # fmt: skip


def test_a_token_from_its_origin_may_ask_its_collections(gate: WidgetGate) -> None:
    assert gate.authorize(TOKEN, SITE, None, None).token == TOKEN  # no collection: the default, docs
    assert gate.authorize(TOKEN, SITE, None, "faq").token == TOKEN


def test_refusals_carry_stable_codes(gate: WidgetGate) -> None:
    with pytest.raises(InvalidWidgetToken):
        gate.authorize("pk_unknown_0123456789", SITE, None, None)
    for origin in (None, "https://evil.example", "null"):
        with pytest.raises(OriginNotAllowed):
            gate.authorize(TOKEN, origin, "https://api.example", None)
    with pytest.raises(CollectionNotAllowed):
        gate.authorize(TOKEN, SITE, None, "secret")
    with pytest.raises(CollectionNotAllowed):
        gate.authorize(OTHER, SITE, None, None)


def test_the_apis_own_origin_is_allowed_for_every_token(gate: WidgetGate) -> None:
    own = "https://api.example"
    assert gate.authorize(TOKEN, own, own, "docs").token == TOKEN


def test_without_a_token(gate: WidgetGate) -> None:
    with pytest.raises(WidgetTokenRequired):
        gate.check_tokenless(SITE, None, keys_enabled=True)
    gate.check_tokenless(SITE, None, keys_enabled=False)  # a widget origin: in the CORS allowlist
    gate.check_tokenless("https://admin.example", None, keys_enabled=False)  # api.cors_origins
    gate.check_tokenless(None, None, keys_enabled=False)  # same-origin GET
    with pytest.raises(OriginNotAllowed):
        gate.check_tokenless("https://evil.example", "https://api.example", keys_enabled=False)


def test_cors_allowlist_and_demo_token(gate: WidgetGate) -> None:
    assert gate.cors_origins == ["https://admin.example", SITE]
    assert gate.demo_collection == "docs" and gate.demo_token() is not None and gate.demo_token().token == TOKEN


def test_admin_routes_are_refused_before_anything_else(gate: WidgetGate) -> None:
    async def admit(method: str, path: str) -> None:
        scope = {"type": "http", "method": method, "path": path, "headers": [(b"origin", SITE.encode())]}
        await gate.admit(scope, _receiver([]), TOKEN, services=None)  # type: ignore[arg-type]

    for method, path in (("GET", "/collections"), ("POST", "/documents"), ("DELETE", "/jobs/x"),
                         ("POST", "/v1/chat/completions"), ("GET", "/ask")):  # fmt: skip
        with pytest.raises(RouteNotAllowed):
            anyio.run(admit, method, path)


def test_headers_are_read_leniently() -> None:
    assert presented_widget_token({"x-widget-token": "  pk_x  "}) == "pk_x"
    assert presented_widget_token({"x-widget-token": " "}) is None
    assert request_origin({"origin": "HTTPS://Shop.Example:443"}) == SITE
    assert request_origin({"origin": "null"}) == "null" and request_origin({}) is None
    scope = {"scheme": "http", "headers": [(b"host", b"127.0.0.1:8000")]}
    assert own_origin(scope) == "http://127.0.0.1:8000"
    assert own_origin({"scheme": "http", "headers": []}) is None


def _receiver(messages: list[dict[str, Any]]) -> Any:
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    return receive


def test_the_body_is_read_for_its_collection_then_replayed_whole() -> None:
    body = json.dumps({"question": "q", "collection": "faq"}).encode()

    async def run() -> tuple[str | None, list[dict[str, Any]]]:
        chunks = [{"type": "http.request", "body": body[:10], "more_body": True},
                  {"type": "http.request", "body": body[10:], "more_body": False}]  # fmt: skip
        collection, replay = await _read_collection(_receiver(chunks))
        return collection, [await replay(), await replay()]

    collection, replayed = anyio.run(run)
    assert collection == "faq"
    assert replayed[0] == {"type": "http.request", "body": body, "more_body": False}
    assert replayed[1]["type"] == "http.disconnect"  # then the real receive: a stream waits on it


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"collection": 7}', b"{}"])
def test_a_body_without_a_string_collection_means_the_default(body: bytes) -> None:
    async def run() -> str | None:
        collection, _ = await _read_collection(_receiver([{"type": "http.request", "body": body}]))
        return collection

    assert anyio.run(run) is None


def test_a_body_over_the_limit_while_read_is_413() -> None:
    from starlette.exceptions import HTTPException

    async def receive() -> dict[str, Any]:
        raise HTTPException(413, "the request body is larger than 1024 bytes")

    with pytest.raises(PayloadTooLarge):
        anyio.run(_read_collection, receive)


def test_denials_are_403_and_token_errors_401() -> None:
    denied = error_response(OriginNotAllowed("no"))
    assert denied.status_code == 403 and json.loads(denied.body)["error"]["code"] == "origin_not_allowed"
    assert error_response(InvalidWidgetToken("no")).status_code == 401
    assert error_response(PayloadTooLarge("big")).status_code == 413
