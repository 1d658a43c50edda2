"""`/docs` and `/redoc` render in a real Chromium with every request off this host blocked: their
scripts and styles come from the app (fastapi-offline), not a CDN."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from core.settings import Settings
from tests.integration.api.browser import launched_chromium
from tests.support.api import LiveServer


@pytest.fixture(scope="module")
def docs_server(api_settings: Settings, components: Components) -> Iterator[LiveServer]:
    with LiveServer(create_app(api_settings, components)) as server:
        yield server


def test_docs_pages_name_no_other_host(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn." not in html and "https://" not in html, html


@pytest.mark.parametrize(("page", "rendered"), [("/docs", ".opblock"), ("/redoc", "[data-section-id]")])
def test_docs_render_with_only_this_host_reachable(docs_server: LiveServer, page: str, rendered: str) -> None:
    blocked: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with launched_chromium() as chromium:
        context = chromium.new_context()
        try:
            tab = context.new_page()
            tab.route("**/*", only_local)
            tab.goto(f"{docs_server.url}{page}")
            tab.locator(rendered).first.wait_for(state="visible", timeout=60_000)
            assert tab.locator(rendered).count() > 3  # the operations (Swagger UI) or sections (ReDoc)
            assert not blocked, blocked
        finally:
            context.close()
