"""RequestGuard on a bare app: repeated parameters, and which browser writes it lets through."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from api.request_guard import RequestGuard, repeated_parameters

ALLOWED = "https://admin.example"


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.api_route("/write", methods=["GET", "POST", "DELETE", "PUT", "PATCH"])
    async def write() -> dict[str, bool]:
        return {"done": True}

    app.add_middleware(RequestGuard, allowed_origins=[ALLOWED + "/"])
    return TestClient(app, base_url="http://api.example")


def test_repeated_parameters_are_named_and_lists_by_design_are_not() -> None:
    assert repeated_parameters(b"a=1&b=2") == []
    assert repeated_parameters(b"collection=x&collection=y&limit=1&limit=2") == ["collection", "limit"]
    assert repeated_parameters(b"collection=&collection=docs") == ["collection"]  # a blank value counts
    assert repeated_parameters(b"tag=a%3D1&tag=b%3D2") == []


def test_a_repeated_parameter_is_400_on_any_method(client: TestClient) -> None:
    for method in ("GET", "POST"):
        response = client.request(method, "/write?collection=a&collection=b")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_browser_writes_from_other_sites_are_403(client: TestClient, method: str) -> None:
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
                    {"Origin": "http://api.example.evil.example"}):  # fmt: skip
        response = client.request(method, "/write", headers=headers)
        assert response.status_code == 403, headers
        assert response.json()["error"]["code"] == "cross_site_request"


def test_own_pages_allowed_origins_and_non_browsers_write(client: TestClient) -> None:
    for headers in ({}, {"Origin": "http://api.example"}, {"Origin": ALLOWED}, {"Sec-Fetch-Site": "same-origin"},
                    {"Origin": ALLOWED, "Sec-Fetch-Site": "cross-site"}):  # fmt: skip
        assert client.post("/write", headers=headers).status_code == 200, headers


def test_reads_are_not_a_cross_site_matter(client: TestClient) -> None:
    assert client.get("/write", headers={"Origin": "https://evil.example"}).status_code == 200


def test_a_widget_request_is_left_to_the_widget_gate(client: TestClient) -> None:
    headers = {"Origin": "https://shop.example", "X-Widget-Token": "pk_x"}
    assert client.post("/write", headers=headers).status_code == 200
