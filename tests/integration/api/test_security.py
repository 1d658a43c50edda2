"""API keys, the per-key rate limit (429 + Retry-After), body and upload limits (413), CORS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import hash_key
from bootstrap.components import Components
from tests.support.api import make_settings, sharing
from tests.support.services import LLMServer

KEY, LIMITED_KEY, OTHER_KEY = "key-alpha", "key-limited", "key-other"
ALLOWED_ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def secured(components: Components, redis_url: str, key_prefix: str, llm_server: LLMServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path_factory.mktemp("secured"), redis_url, key_prefix + "secured:", llm_server.base_url,
        api={"api_keys_sha256": [hash_key(k) for k in (KEY, LIMITED_KEY, OTHER_KEY)], "rate_limit_per_minute": 60,
             "rate_limit_burst": 3, "max_body_bytes": 2048, "max_upload_bytes": 4096,
             "cors_origins": [ALLOWED_ORIGIN]},
    )  # fmt: skip
    with TestClient(create_app(settings, sharing(components, settings))) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_protected_routes_need_a_key(secured: TestClient) -> None:
    for method, path in (("get", "/collections"), ("post", "/ask"), ("get", "/v1/models"), ("post", "/feedback"),
                         ("get", "/jobs/abc"), ("delete", "/documents/x")):  # fmt: skip
        response = secured.request(method.upper(), path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
    bad = secured.get("/collections", headers=auth("wrong"))
    assert bad.status_code == 401 and "not valid" in bad.json()["error"]["message"]


def test_a_valid_key_in_either_header_works(secured: TestClient) -> None:
    assert secured.get("/collections", headers=auth(KEY)).status_code == 200
    assert secured.get("/collections", headers={"X-API-Key": KEY}).status_code == 200


def test_public_routes_need_no_key(secured: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert secured.get(path).status_code == 200, path


def test_rate_limit_per_key_with_retry_after(secured: TestClient) -> None:
    statuses = [secured.get("/collections", headers=auth(LIMITED_KEY)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # the burst
    limited = secured.get("/collections", headers=auth(LIMITED_KEY))
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 2  # 60/min: one token per second
    assert secured.get("/collections", headers=auth(OTHER_KEY)).status_code == 200  # another key, another bucket
    assert "ragqa_rate_limited_total 1.0" in secured.get("/metrics").text


def test_large_bodies_are_413(secured: TestClient) -> None:
    response = secured.post("/ask", json={"question": "x" * 3000}, headers=auth(KEY))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"question": "'
        yield b"y" * 3000
        yield b'"}'

    streamed = secured.post("/ask", content=chunked(), headers={**auth(KEY), "content-type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"


def test_large_uploads_are_413(secured: TestClient, tmp_path: Path) -> None:
    response = secured.post("/documents", files=[("files", ("big.txt", b"z" * 5000))], headers=auth(OTHER_KEY))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_cors_allowlist(secured: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = secured.options("/ask", headers={"Origin": ALLOWED_ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    denied = secured.options("/ask", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in denied.headers
