"""Single sign-on tokens: keys made at test time, a JWKS file (and one URL on 127.0.0.1), every refusal.

The URL case serves the JWKS from a loopback HTTP server in a thread: the only socket here, and the
only way to exercise PyJWKClient's fetch without a network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from api.errors import status_for
from api.jwt_auth import InvalidToken, JwtVerifier, KeysUnavailable, looks_like_jwt
from core.auth_settings import AuthSettings
from core.errors import ConfigurationError

ISSUER = "https://sso.example.com/realms/acme"
AUDIENCE = "ragqa"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def jwks(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    return {"keys": [public_jwk(rsa_key, "rsa-1"), public_jwk(ec_key, "ec-1")]}


@pytest.fixture
def jwks_file(tmp_path: Path, jwks: dict[str, Any]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    return path


@pytest.fixture
def verifier(jwks_file: Path) -> JwtVerifier:
    return verifier_for(jwks_file)


def verifier_for(jwks: Path | str, **settings: Any) -> JwtVerifier:
    auth = AuthSettings(jwt_jwks=str(jwks), jwt_issuer=ISSUER, jwt_audience=AUDIENCE, **settings)
    built = JwtVerifier.from_settings(auth)
    assert built is not None
    return built


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "f81d4fae", "preferred_username": "ana", "iat": now,
            "exp": now + 300, "groups": ["legal", "finance"]}  # fmt: skip
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: Any, kid: str | None = "rsa-1", algorithm: str = "RS256", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], sign_with: bytes | None) -> str:
    """A token PyJWT refuses to make: unsigned, or HMAC'd with a public key."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = b"" if sign_with is None else hmac.new(sign_with, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def refusal(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier.principal(token)
    assert status_for(caught.value) == 401 and caught.value.code == "invalid_token"
    return caught.value.reason


def test_a_valid_token_becomes_a_user_with_its_name_groups_and_default_roles(verifier: JwtVerifier,
                                                                            rsa_key: rsa.RSAPrivateKey) -> None:
    principal = verifier.principal(sign(rsa_key))
    assert (principal.name, principal.kind) == ("ana", "user")
    assert principal.groups == {"legal", "finance"}
    assert principal.roles == {"ask"} and principal.collections is None
    assert principal.may_read(["group:finance"]) and principal.may_read(["user:ana"])
    assert not principal.may_read(["group:hr"]) and not principal.may("ingest")


def test_an_ec_key_signs_es256(verifier: JwtVerifier, ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert verifier.principal(sign(ec_key, kid="ec-1", algorithm="ES256")).name == "ana"


def test_the_name_falls_back_to_sub(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    assert verifier.principal(sign(rsa_key, preferred_username=None)).name == "f81d4fae"
    assert refusal(verifier, sign(rsa_key, preferred_username=None, sub=None)) == "missing_claim"


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"nbf": int(time.time()) + 3600}, "not_yet_valid"),
    ({"iss": "https://evil.example"}, "wrong_issuer"),
    ({"aud": "another-app"}, "wrong_audience"),
    ({"exp": None}, "missing_claim"),
    ({"iss": None}, "missing_claim"),
    ({"aud": None}, "missing_claim"),
])  # fmt: skip
def test_claims_that_are_refused(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey, overrides: dict[str, Any],
                                 reason: str) -> None:
    assert refusal(verifier, sign(rsa_key, **overrides)) == reason


def test_leeway_forgives_a_slow_clock(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    assert verifier.principal(sign(rsa_key, exp=int(time.time()) - 10)).name == "ana"


def test_audience_in_a_list(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    assert verifier.principal(sign(rsa_key, aud=["account", AUDIENCE])).name == "ana"


def test_another_keys_signature_is_refused(verifier: JwtVerifier) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refusal(verifier, sign(stranger, kid="rsa-1")) == "bad_signature"


def test_an_unknown_key_id_is_refused(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    assert refusal(verifier, sign(rsa_key, kid="rotated-away")) == "unknown_key"
    assert refusal(verifier, sign(rsa_key, kid=None)) == "unknown_key"  # no kid, and two keys to choose from


def test_alg_none_is_refused(verifier: JwtVerifier) -> None:
    token = handmade({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims(), sign_with=None)
    assert looks_like_jwt(token)
    assert refusal(verifier, token) == "algorithm"


def test_hs256_signed_with_the_public_key_is_refused(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    """The classic confusion: a verifier that let the header pick HMAC would use the public key as the secret."""
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = handmade({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), sign_with=pem)
    assert refusal(verifier, token) == "algorithm"


def test_a_key_that_does_not_fit_the_algorithm_is_refused(verifier: JwtVerifier,
                                                          rsa_key: rsa.RSAPrivateKey) -> None:
    assert refusal(verifier, sign(rsa_key, kid="ec-1", algorithm="RS256")) == "algorithm"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.%%%.x", "x" * 20_000])
def test_garbage_is_malformed(verifier: JwtVerifier, token: str) -> None:
    assert refusal(verifier, token) == "malformed"


@pytest.mark.parametrize(("roles", "expected"), [
    (["admin", "Ingest", "offline_access"], {"admin", "ingest"}),
    ("ask ingest", {"ask", "ingest"}),
    (["offline_access"], set()),  # a roles claim with nothing of ours: no roles, not the defaults
    ([], set()),
])  # fmt: skip
def test_roles_claim_mapping(verifier: JwtVerifier, rsa_key: rsa.RSAPrivateKey, roles: Any,
                             expected: set[str]) -> None:
    assert verifier.principal(sign(rsa_key, roles=roles)).roles == expected


def test_nested_roles_and_default_roles(jwks_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    keycloak = verifier_for(jwks_file, jwt_roles_claim="realm_access.roles", jwt_default_roles=[])
    assert keycloak.principal(sign(rsa_key, realm_access={"roles": ["ingest", "uma_authorization"]})).roles == {
        "ingest"}
    assert keycloak.principal(sign(rsa_key)).roles == frozenset()
    with pytest.raises(ValidationError):
        AuthSettings(jwt_default_roles=["superuser"])


def test_collections_claim(jwks_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    scoped = verifier_for(jwks_file, jwt_collections_claim="ragqa_collections")
    principal = scoped.principal(sign(rsa_key, ragqa_collections=["docs", "faq"]))
    assert principal.collections == {"docs", "faq"}
    assert principal.may_use("docs") and not principal.may_use("hr")
    assert scoped.principal(sign(rsa_key)).collections == frozenset()  # claim configured, token lacks it: none


def test_name_and_groups_claims_are_configurable(jwks_file: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    entra = verifier_for(jwks_file, jwt_name_claim="upn", jwt_groups_claim="wids")
    principal = entra.principal(sign(rsa_key, upn="ana@acme.example", wids="admins-guid"))
    assert principal.name == "ana@acme.example" and principal.groups == {"admins-guid"}


def test_the_file_is_read_again_when_it_changes(jwks_file: Path, verifier: JwtVerifier) -> None:
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = sign(new_key, kid="rsa-2")
    assert refusal(verifier, token) == "unknown_key"
    jwks_file.write_text(json.dumps({"keys": [public_jwk(new_key, "rsa-2")]}))
    os.utime(jwks_file, ns=(time.time_ns(), time.time_ns() + 10**9))  # a coarse clock must still see a change
    assert verifier.principal(token).name == "ana"
    jwks_file.write_text("{ half written")  # a broken rewrite keeps the keys read before
    os.utime(jwks_file, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert verifier.principal(token).name == "ana"


def test_settings(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    assert JwtVerifier.from_settings(AuthSettings()) is None
    with pytest.raises(ConfigurationError):
        JwtVerifier.from_settings(AuthSettings(jwt_jwks=str(tmp_path / "missing.json")))
    symmetric_only = tmp_path / "oct.json"
    symmetric_only.write_text(json.dumps({"keys": [{"kty": "oct", "k": b64(b"secret" * 6), "kid": "h"}]}))
    with pytest.raises(ConfigurationError):
        JwtVerifier.from_settings(AuthSettings(jwt_jwks=str(symmetric_only)))
    private = tmp_path / "private.json"
    private.write_text(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key).replace("{", '{"keys": [{', 1) + "]}")
    with pytest.raises(ConfigurationError):  # a private key is no public signing key
        JwtVerifier.from_settings(AuthSettings(jwt_jwks=str(private)))
    for url in ("http://sso.example.com/certs", "ftp://127.0.0.1/jwks"):
        with pytest.raises(ValidationError):
            AuthSettings(jwt_jwks=url)
    assert AuthSettings(jwt_jwks="http://127.0.0.1:8080/certs").jwt_jwks == "http://127.0.0.1:8080/certs"


def test_looks_like_jwt(rsa_key: rsa.RSAPrivateKey) -> None:
    assert looks_like_jwt(sign(rsa_key))
    for token in ("rk_live_0123456789abcdef", "a.b.c", "", "x.y", "e30.e30.sig", "bm90IGpzb24.e30.c2ln"):
        assert not looks_like_jwt(token)


class JwksHandler(BaseHTTPRequestHandler):
    """Serves ``body`` at any path and counts the fetches."""

    body = b"{}"
    status = 200
    fetches = 0

    def do_GET(self) -> None:
        type(self).fetches += 1
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server(jwks: dict[str, Any]) -> Iterator[tuple[str, type[JwksHandler]]]:
    """The JWKS at a Keycloak-like URL on 127.0.0.1, and the handler class that counts its fetches."""
    handler = type("Handler", (JwksHandler,), {"body": json.dumps(jwks).encode(), "fetches": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/realms/acme/protocol/openid-connect/certs", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_keys_from_a_url(jwks_server: tuple[str, type[JwksHandler]], rsa_key: rsa.RSAPrivateKey,
                         ec_key: ec.EllipticCurvePrivateKey) -> None:
    url, handler = jwks_server
    verifier = verifier_for(url, jwt_jwks_timeout_s=2)
    assert verifier.principal(sign(rsa_key)).name == "ana"
    assert verifier.principal(sign(ec_key, kid="ec-1", algorithm="ES256")).groups == {"legal", "finance"}
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refusal(verifier, sign(stranger)) == "bad_signature"
    assert refusal(verifier, sign(rsa_key, exp=int(time.time()) - 120)) == "expired"
    assert handler.fetches == 1  # the set is cached


def test_unknown_key_ids_refetch_the_url_once_per_cooldown(jwks_server: tuple[str, type[JwksHandler]],
                                                           rsa_key: rsa.RSAPrivateKey) -> None:
    url, handler = jwks_server
    verifier = verifier_for(url)
    for kid in ("random-1", "random-2", "random-3"):
        assert refusal(verifier, sign(rsa_key, kid=kid)) == "unknown_key"
    assert handler.fetches == 2  # the first fetch, and one refresh for all the unknown kids
    assert verifier.principal(sign(rsa_key)).name == "ana"
    assert handler.fetches == 2


def test_an_outage_keeps_the_keys_fetched_before(jwks_server: tuple[str, type[JwksHandler]],
                                                 rsa_key: rsa.RSAPrivateKey) -> None:
    url, handler = jwks_server
    verifier = verifier_for(url, jwt_jwks_cache_s=0.01)
    assert verifier.principal(sign(rsa_key)).name == "ana"
    handler.status = 503
    time.sleep(0.05)  # the cached set has expired
    assert verifier.principal(sign(rsa_key)).name == "ana"
    assert verifier.principal(sign(rsa_key)).name == "ana"
    assert handler.fetches == 2  # one failed fetch, then the URL rests


def test_an_unreachable_url_is_unavailable_not_unauthorized(rsa_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = verifier_for(f"http://127.0.0.1:{port}/certs", jwt_jwks_timeout_s=1)
    for _ in range(2):  # the second fails at once: the URL rests after a failure
        with pytest.raises(KeysUnavailable) as caught:
            verifier.principal(sign(rsa_key))
        assert status_for(caught.value) == 503
