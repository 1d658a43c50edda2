"""Widget tokens over HTTP: the Origin check, the routes and collections a token reaches, its rate
limits, CORS from the same allowlist, `/widget/config`, the widget's files and the demo page.

API keys are on in this app, so every pass here is the widget token's doing, not an open API.
Questions are off-topic (refused before the LLM) where the answer itself does not matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import hash_key
from bootstrap.components import Components
from tests.support.api import make_settings, sharing
from tests.support.services import LLMServer

KEY = "widget-suite-admin-key"
SITE, EVIL = "https://shop.example", "https://evil.example"
SITE_TOKEN = "pk_site_0123456789abcdef"
TIGHT_TOKEN = "pk_tight_0123456789abcdef"  # a burst of 2 for the whole token
OTHER_TOKEN = "pk_other_0123456789abcdef"  # allowed on SITE, but only for collection "other"
OFF_TOPIC = "What is the boiling point of liquid nitrogen in a vacuum chamber?"


@pytest.fixture(scope="module")
def widget_client(components: Components, redis_url: str, key_prefix: str, llm_server: LLMServer,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path_factory.mktemp("widget"), redis_url, key_prefix + "widget:", llm_server.base_url,
        api={"api_keys_sha256": [hash_key(KEY)], "cors_origins": ["https://admin.example"]},
        widget={"tokens": [
            {"token": SITE_TOKEN, "origins": [SITE + "/"], "collections": ["docs"]},
            {"token": TIGHT_TOKEN, "origins": [SITE], "collections": ["docs"], "rate_limit_per_minute": 6,
             "rate_limit_burst": 2},
            {"token": OTHER_TOKEN, "origins": [SITE], "collections": ["other"]},
        ], "visitor_rate_limit_per_minute": 600, "visitor_rate_limit_burst": 100},
    )  # fmt: skip
    with TestClient(create_app(settings, sharing(components, settings))) as client:
        yield client


def widget(token: str = SITE_TOKEN, origin: str | None = SITE) -> dict[str, str]:
    headers = {"X-Widget-Token": token}
    if origin is not None:
        headers["Origin"] = origin
    return headers


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_a_widget_token_asks_from_an_allowed_origin(widget_client: TestClient) -> None:
    response = widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget())
    assert response.status_code == 200, response.text
    assert response.json()["refused"] is True
    assert response.headers["access-control-allow-origin"] == SITE  # CORS from the token's origins
    chat = widget_client.post("/chat", json={"messages": [{"role": "user", "content": OFF_TOPIC}], "stream": True},
                              headers=widget())  # fmt: skip
    assert chat.status_code == 200 and "event: done" in chat.text  # the body read by the gate reached the route


def test_the_origin_is_checked_on_every_request(widget_client: TestClient) -> None:
    for origin in (EVIL, None, "null", "https://shop.example.evil.example", "http://shop.example"):
        response = widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget(origin=origin))
        assert response.status_code == 403, origin
        assert error_code(response) == "origin_not_allowed"
    assert EVIL in widget_client.post("/ask", json={"question": "x"}, headers=widget(origin=EVIL)).json()["error"][
        "message"]  # fmt: skip


def test_an_unknown_token_is_401(widget_client: TestClient) -> None:
    response = widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget(token="pk_nope_0123456789abcd"))
    assert response.status_code == 401 and error_code(response) == "invalid_widget_token"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/collections"), ("POST", "/documents"), ("GET", "/jobs/abc"), ("DELETE", "/jobs/abc"),
    ("DELETE", "/documents/set1/a1.txt"), ("GET", "/v1/models"), ("POST", "/v1/chat/completions"),
    ("GET", "/documents"), ("GET", "/documents/set1/a1.txt"),
])  # fmt: skip
def test_a_widget_token_never_reaches_admin_routes(widget_client: TestClient, method: str, path: str) -> None:
    response = widget_client.request(method, path, headers=widget())
    assert response.status_code == 403
    assert error_code(response) == "widget_route_not_allowed"
    assert widget_client.request(method, path).status_code == 401  # and without it, the API key is still needed


def test_collections_are_per_token(widget_client: TestClient) -> None:
    denied = widget_client.post("/ask", json={"question": OFF_TOPIC, "collection": "secret"}, headers=widget())
    assert denied.status_code == 403 and error_code(denied) == "collection_not_allowed"
    other = widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget(token=OTHER_TOKEN))
    assert other.status_code == 403 and error_code(other) == "collection_not_allowed"  # the default: docs
    chat = widget_client.post("/chat", json={"messages": [{"role": "user", "content": "x"}], "collection": "secret"},
                              headers=widget())  # fmt: skip
    assert chat.status_code == 403 and error_code(chat) == "collection_not_allowed"


def test_a_widget_token_reads_the_text_of_its_own_collections_only(widget_client: TestClient) -> None:
    """The widget's source view opens a cited document; a token reaches that text, for its collections."""
    path = "/documents/set1/a1.txt/text?start=0&end=40"
    own = widget_client.get(path, headers=widget())
    assert own.status_code in (200, 404), own.text  # past the gate (404: not in this suite's collection)
    if own.status_code == 404:
        assert error_code(own) == "not_found"
    denied = widget_client.get(path + "&collection=secret", headers=widget())
    assert denied.status_code == 403 and error_code(denied) == "collection_not_allowed"
    other = widget_client.get(path, headers=widget(token=OTHER_TOKEN))
    assert other.status_code == 403 and error_code(other) == "collection_not_allowed"
    assert widget_client.get(path, headers=widget(origin=EVIL)).status_code == 403


def test_feedback_is_a_widget_route(widget_client: TestClient) -> None:
    response = widget_client.post("/feedback", json={"answer_id": "0" * 32, "rating": "up"}, headers=widget())
    assert response.status_code == 404 and error_code(response) == "not_found"  # past the gate; no such answer


def test_the_rate_limit_is_per_token(widget_client: TestClient) -> None:
    statuses = [widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget(token=TIGHT_TOKEN)).status_code
                for _ in range(3)]  # fmt: skip
    assert statuses == [200, 200, 429]
    limited = widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget(token=TIGHT_TOKEN))
    assert error_code(limited) == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget()).status_code == 200  # own bucket


def test_cors_preflight_follows_the_widget_origins(widget_client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,x-widget-token"}
    allowed = widget_client.options("/chat", headers={"Origin": SITE, **preflight})
    assert allowed.status_code == 200  # answered by CORS, before the auth gate
    assert allowed.headers["access-control-allow-origin"] == SITE
    assert "x-widget-token" in allowed.headers["access-control-allow-headers"].lower()
    denied = widget_client.options("/chat", headers={"Origin": EVIL, **preflight})
    assert "access-control-allow-origin" not in denied.headers
    admin = widget_client.options("/ask", headers={"Origin": "https://admin.example", **preflight})
    assert admin.headers["access-control-allow-origin"] == "https://admin.example"  # api.cors_origins still count


def test_widget_config_says_why_a_page_cannot_use_the_widget(widget_client: TestClient) -> None:
    ok = widget_client.get("/widget/config", params={"token": SITE_TOKEN, "collection": "docs"},
                           headers={"Origin": SITE})  # fmt: skip
    assert ok.status_code == 200
    assert ok.json() == {"collection": "docs", "max_question_chars": 2000}
    cases = [({"token": SITE_TOKEN}, EVIL, 403, "origin_not_allowed"),
             ({"token": SITE_TOKEN, "collection": "secret"}, SITE, 403, "collection_not_allowed"),
             ({"token": "pk_nope_0123456789abcd"}, SITE, 401, "invalid_widget_token"),
             ({}, SITE, 401, "widget_token_required")]  # fmt: skip
    for params, origin, status, code in cases:
        response = widget_client.get("/widget/config", params=params, headers={"Origin": origin})
        assert (response.status_code, error_code(response)) == (status, code), params
        # Readable by the widget on any page ("*"; CORS names an allowlisted origin itself).
        assert response.headers["access-control-allow-origin"] in ("*", origin), params
    same_origin = widget_client.get("/widget/config", params={"token": OTHER_TOKEN, "collection": "other"})
    assert same_origin.status_code == 200  # no Origin header: a same-origin GET


def test_the_widget_files_are_public_and_cacheable(widget_client: TestClient) -> None:
    script = widget_client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "attachShadow" in script.text and "innerHTML" not in script.text
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    again = widget_client.get("/widget.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert widget_client.get("/widget.css").headers["content-type"].startswith("text/css")


def test_the_demo_page_embeds_the_widget_with_a_token_for_its_collection(widget_client: TestClient) -> None:
    page = widget_client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'data-token="{SITE_TOKEN}"' in page.text and 'data-collection="docs"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "{{" not in page.text
    # Its own origin is allowed for every token: the demo page needs no entry in `origins`.
    own = widget_client.post("/ask", json={"question": OFF_TOPIC}, headers=widget(origin="http://testserver"))
    assert own.status_code == 200


def test_the_openapi_schema_documents_the_config_route_as_public(widget_client: TestClient) -> None:
    paths = widget_client.get("/openapi.json").json()["paths"]
    assert "security" not in paths["/widget/config"]["get"]
    assert "/widget.js" not in paths and "/" not in paths


def test_without_tokens_or_keys_the_demo_page_still_works(components: Components, redis_url: str, key_prefix: str,
                                                          llm_server: LLMServer, tmp_path: Any) -> None:
    settings = make_settings(tmp_path, redis_url, key_prefix + "widget-open:", llm_server.base_url)
    with TestClient(create_app(settings, sharing(components, settings))) as client:
        page = client.get("/")
        assert page.status_code == 200 and 'data-token=""' in page.text and "hidden>" in page.text  # no notice
        assert client.get("/widget/config", headers={"Origin": "http://testserver"}).status_code == 200
        foreign = client.get("/widget/config", headers={"Origin": EVIL})
        assert foreign.status_code == 403 and error_code(foreign) == "origin_not_allowed"
    off = make_settings(tmp_path, redis_url, key_prefix + "widget-off:", llm_server.base_url,
                        widget={"enabled": False})  # fmt: skip
    with TestClient(create_app(off, sharing(components, off))) as client:
        assert client.get("/").status_code == 404 and client.get("/widget.js").status_code == 404


def test_a_repeated_collection_parameter_is_refused_before_any_check(widget_client: TestClient) -> None:
    """The gate and the route must read the same value: a second ``collection`` is a 400, never the
    last one (the route's) after the gate approved the first."""
    path = "/documents/set1/a1.txt/text"
    for query in ("collection=docs&collection=secret", "collection=secret&collection=docs",
                  "collection=docs&start=0&collection=docs"):  # fmt: skip
        response = widget_client.get(f"{path}?{query}", headers=widget())
        assert response.status_code == 400, (query, response.text)
        assert error_code(response) == "invalid_request" and "collection" in response.json()["error"]["message"]
        assert "text" not in response.json()
    # With the API key too: no route reads a repeated scoping parameter.
    keyed = widget_client.get(f"{path}?collection=docs&collection=secret", headers={"Authorization": f"Bearer {KEY}"})
    assert keyed.status_code == 400
    # Lists by design still work.
    tags = widget_client.get("/documents?tag=a=1&tag=b=2", headers={"Authorization": f"Bearer {KEY}"})
    assert tags.status_code == 200, tags.text


def test_a_repeated_collection_key_in_the_body_is_refused(widget_client: TestClient) -> None:
    body = f'{{"question": "{OFF_TOPIC}", "collection": "docs", "collection": "secret"}}'
    response = widget_client.post("/ask", content=body, headers={**widget(), "Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "invalid_request", response.text
