"""How ``ragqa serve`` configures uvicorn: no public bind without keys, forwarded headers only from proxies."""

from __future__ import annotations

import pytest

from api.server import check_bind, trusted_proxies
from core.errors import ConfigurationError
from core.settings import Settings


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.internal"])
def test_binding_beyond_loopback_without_keys_is_refused(host: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_bind(Settings(), host)
    assert "no API keys" in caught.value.message and "--insecure" in caught.value.message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "::1", "localhost"])
def test_loopback_needs_nothing(host: str) -> None:
    check_bind(Settings(), host)


def test_keys_or_insecure_allow_a_public_bind() -> None:
    check_bind(Settings(api={"api_keys_sha256": ["ab" * 32]}), "0.0.0.0")
    check_bind(Settings(api={"insecure": True}), "0.0.0.0")


def test_forwarded_headers_are_trusted_only_from_named_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert trusted_proxies(Settings()) == []  # not uvicorn's default of 127.0.0.1
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.2, 10.0.0.3")
    assert trusted_proxies(Settings()) == ["10.0.0.2", "10.0.0.3"]
    assert trusted_proxies(Settings(api={"forwarded_allow_ips": ["172.18.0.5"]})) == ["172.18.0.5"]
