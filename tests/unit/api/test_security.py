"""Credentials: admin key digests, scoped keys, tokens, and the headers a credential arrives in.
(Scoped keys against a real Redis: tests/integration/api/test_access_matrix.py.)"""

from __future__ import annotations

import asyncio

import pytest

from api.security import Authenticator, hash_key, presented_key
from core.access import OPEN, ROLES, Principal
from core.errors import Unauthorized


def authenticate(auth: Authenticator, headers: dict[str, str]) -> Principal:
    return asyncio.run(auth.authenticate(headers))


def test_admin_keys_are_compared_by_digest_and_may_do_everything() -> None:
    auth = Authenticator([hash_key("alpha"), hash_key("beta").upper()])  # digests are case-insensitive hex
    assert auth.enabled
    assert authenticate(auth, {"x-api-key": "alpha"}).roles == frozenset(ROLES)
    assert authenticate(auth, {"authorization": "Bearer beta"}).readers is None
    with pytest.raises(Unauthorized, match="not valid"):
        authenticate(auth, {"x-api-key": "gamma"})
    with pytest.raises(Unauthorized, match="required"):
        authenticate(auth, {})


def test_without_credentials_configured_a_request_without_one_may_do_everything() -> None:
    assert not Authenticator([]).enabled and not Authenticator(["  "]).enabled
    assert authenticate(Authenticator([]), {}) is OPEN
    with pytest.raises(Unauthorized):
        authenticate(Authenticator([], required=True), {})


class _Verifier:
    def principal(self, token: str) -> Principal:
        return Principal(token.split(".")[0], "user", groups=frozenset({"legal"}))


def test_a_token_goes_to_the_verifier_and_a_key_does_not() -> None:
    auth = Authenticator([hash_key("alpha")], verifier=_Verifier(), looks_like_token=lambda k: k.count(".") == 2)
    assert authenticate(auth, {"authorization": "Bearer ana.x.y"}).readers == ("*", "group:legal", "user:ana")
    assert authenticate(auth, {"authorization": "Bearer alpha"}).readers is None


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
