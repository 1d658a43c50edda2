"""Widget settings: origins normalized as browsers send them, tokens validated at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings
from core.widget_settings import WidgetSettings, normalize_origin

TOKEN = "pk_unit_0123456789abcdef"


@pytest.mark.parametrize(("given", "expected"), [
    ("https://www.example.com", "https://www.example.com"),
    ("https://WWW.Example.com/", "https://www.example.com"),
    ("https://www.example.com:443", "https://www.example.com"),
    ("http://localhost:80", "http://localhost"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])  # fmt: skip
def test_origins_are_normalized_like_the_origin_header(given: str, expected: str) -> None:
    assert normalize_origin(given) == expected


@pytest.mark.parametrize("bad", ["www.example.com", "ftp://example.com", "https://example.com/app",
                                 "https://*.example.com", "https://example.com?x=1", "https://", "null",
                                 "https://example.com:99999"])  # fmt: skip
def test_anything_but_an_origin_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_origin(bad)


def test_tokens_are_checked_when_settings_load() -> None:
    widget = WidgetSettings(tokens=[{"token": TOKEN, "origins": ["https://A.example/", "https://a.example"],
                                     "collections": ["docs"]}])  # fmt: skip
    assert widget.tokens[0].origins == ["https://a.example"]  # normalized, once
    for bad in ({"token": "short", "origins": ["https://a.example"], "collections": ["docs"]},
                {"token": TOKEN + " x", "origins": ["https://a.example"], "collections": ["docs"]},
                {"token": TOKEN, "origins": [], "collections": ["docs"]},
                {"token": TOKEN, "origins": ["https://a.example/path"], "collections": ["docs"]},
                {"token": TOKEN, "origins": ["https://a.example"], "collections": []}):  # fmt: skip
        with pytest.raises(ValidationError):
            WidgetSettings(tokens=[bad])
    with pytest.raises(ValidationError, match="once"):
        WidgetSettings(tokens=[{"token": TOKEN, "origins": ["https://a.example"], "collections": ["docs"]}] * 2)


def test_every_tokens_origins_join_the_allowlist_once() -> None:
    widget = WidgetSettings(tokens=[
        {"token": TOKEN, "origins": ["https://a.example", "https://b.example"], "collections": ["docs"]},
        {"token": TOKEN + "2", "origins": ["https://b.example", "https://c.example"], "collections": ["docs"]},
    ])  # fmt: skip
    assert widget.origins() == ["https://a.example", "https://b.example", "https://c.example"]


def test_tokens_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_WIDGET__TOKENS",
                       f'[{{"token": "{TOKEN}", "origins": ["https://a.example"], "collections": ["docs"]}}]')
    monkeypatch.setenv("RAGQA_WIDGET__DEMO_PAGE", "false")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.widget.tokens[0].token == TOKEN and settings.widget.demo_page is False
