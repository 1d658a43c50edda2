"""API keys: digests, constant-time identification and the headers a key arrives in."""

from __future__ import annotations

import pytest

from api.security import ApiKeys, hash_key, presented_key
from core.errors import Unauthorized


def test_keys_are_compared_by_digest() -> None:
    keys = ApiKeys([hash_key("alpha"), hash_key("beta").upper()])  # digests are case-insensitive hex
    assert keys.enabled
    assert keys.identify("alpha") == hash_key("alpha")
    assert keys.identify("beta") == hash_key("beta")
    with pytest.raises(Unauthorized):
        keys.identify("gamma")
    with pytest.raises(Unauthorized):
        keys.identify(None)


def test_no_keys_means_auth_is_off() -> None:
    assert not ApiKeys([]).enabled
    assert not ApiKeys(["  "]).enabled


@pytest.mark.parametrize(("headers", "expected"), [
    ({"authorization": "Bearer k1"}, "k1"),
    ({"authorization": "bearer  k1 "}, "k1"),
    ({"x-api-key": "k2"}, "k2"),
    ({"authorization": "Basic abc", "x-api-key": "k3"}, "k3"),
    ({"authorization": "Bearer "}, None),
    ({}, None),
])  # fmt: skip
def test_presented_key(headers: dict[str, str], expected: str | None) -> None:
    assert presented_key(headers) == expected
