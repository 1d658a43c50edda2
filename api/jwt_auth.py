"""Single sign-on: JWT bearer tokens from an identity provider, verified and mapped to a principal.

The checks, in order, each failing with ``InvalidToken`` (401, code ``invalid_token``) and a
``reason`` that says what was wrong:

1. the token parses as a JWT (``malformed``);
2. its ``alg`` is asymmetric, one of ``ALGORITHMS`` (``algorithm``): never ``none``, never HS*,
   whose "secret" would be the provider's public key, which anyone can fetch;
3. its ``kid`` names a public signing key of the provider (``unknown_key``), of a type that fits
   the ``alg`` (``algorithm``);
4. the signature (``bad_signature``), ``exp`` (required; ``expired``), ``nbf``/``iat``
   (``not_yet_valid``), ``iss`` and ``aud`` when configured, and then required (``wrong_issuer``,
   ``wrong_audience``, ``missing_claim``), with 30 s of leeway for clocks;
5. a name: the configured claim, else ``sub`` (``missing_claim``).

The keys come from a JWKS file (read once, read again when it changes) or URL (PyJWT's
``PyJWKClient``: cached, fetched again on an unknown ``kid`` at most every 30 s). When the URL
cannot be fetched, ``KeysUnavailable`` (503): that is no fault of the token. A URL fetch blocks,
bounded by ``jwt_jwks_timeout_s``: call ``principal`` from a worker thread in async code.

Example::

    verifier = JwtVerifier.from_settings(settings.auth)   # None: JWTs are not accepted
    if verifier is not None and looks_like_jwt(token):
        principal = verifier.principal(token)             # raises InvalidToken
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from core.access import ROLES, Principal
from core.auth_settings import AuthSettings
from core.errors import ConfigurationError, RagqaError, Unauthorized

log = structlog.get_logger(__name__)

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
LEEWAY_S = 30
REFRESH_COOLDOWN_S = 30.0  # an unknown kid refetches at most this often: random kids cannot flood the provider
RETRY_S = 5.0  # after a failed fetch, the URL rests this long
MAX_TOKEN_CHARS = 16_384
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384"}
_B64URL = re.compile(r"[A-Za-z0-9_-]+")

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
Reason = Literal["malformed", "algorithm", "unknown_key", "bad_signature", "expired", "not_yet_valid",
                 "wrong_issuer", "wrong_audience", "missing_claim"]  # fmt: skip


class InvalidToken(Unauthorized):
    """A JWT that is not accepted; ``reason`` says which check failed, the message how."""

    code = "invalid_token"

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"invalid bearer token: {message}")
        self.reason = reason


class KeysUnavailable(RagqaError):
    """The identity provider's keys cannot be fetched (503): the token may well be good."""

    code = "jwks_unavailable"
    transient = True


def looks_like_jwt(token: str) -> bool:
    """Cheap: three base64url parts whose first decodes to a JSON object with an ``alg``. No key is used.

        >>> looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"), looks_like_jwt("rk_live_0123456789")
        (True, False)
    """
    parts = token.split(".")
    if len(parts) != 3 or len(parts[0]) > 4096 or not all(_B64URL.fullmatch(p) for p in parts[:2]):
        return False
    if parts[2] and not _B64URL.fullmatch(parts[2]):  # empty: an unsigned token, refused later as a JWT
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)


def _shown(value: Any) -> str:
    """A header value in a message: the caller wrote it, so it is quoted and cut short."""
    text = repr(value)
    return text if len(text) <= 64 else text[:60] + "...'"


def _fits(key: PublicKey, alg: str) -> bool:
    """Whether ``key`` can verify ``alg``: RSA for RS*/PS*, the matching curve for ES*, Edwards for EdDSA."""
    if isinstance(key, RSAPublicKey):
        return alg[:2] in ("RS", "PS")
    if isinstance(key, EllipticCurvePublicKey):
        return _EC_ALGORITHMS.get(key.curve.name) == alg
    return alg == "EdDSA"


def _signing_keys(jwks: Iterable[jwt.PyJWK]) -> dict[str, PublicKey]:
    """The public signing keys of a JWK set, by ``kid``: symmetric and private keys are left out."""
    usable: dict[str, PublicKey] = {}
    for index, jwk in enumerate(jwks):
        if jwk.public_key_use in ("sig", None) and isinstance(jwk.key, PublicKey):
            usable[jwk.key_id or f"#{index}"] = jwk.key
    return usable


def _parse_jwks(document: Any) -> dict[str, PublicKey]:
    try:
        return _signing_keys(jwt.PyJWKSet.from_dict(document).keys) if isinstance(document, dict) else {}
    except jwt.PyJWKSetError:  # no keys, or none PyJWT can use
        return {}


def _pick(keys: Mapping[str, PublicKey], kid: str | None) -> PublicKey | None:
    if kid is None:  # a provider with a single key may leave kid out
        return next(iter(keys.values())) if len(keys) == 1 else None
    return keys.get(kid)


class _FileKeys:
    """A JWKS file, read again when its size or modification time changes (a stat per token)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, PublicKey] = {}
        self._lock = threading.Lock()
        if not self._reload():
            raise ConfigurationError(f"RAGQA_AUTH__JWT_JWKS: {path} holds no public signing keys (a JWKS: "
                                     '{"keys": [...]}, RSA, EC P-256/P-384 or Ed25519)')

    def _reload(self) -> bool:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp:
                return True
            keys = _parse_jwks(json.loads(self.path.read_bytes()))
        except (OSError, ValueError) as exc:
            log.warning("jwks_file_unreadable", path=str(self.path), error=str(exc))
            return False
        if not keys:
            log.warning("jwks_file_without_keys", path=str(self.path))
            return False
        self._keys, self._stamp = keys, stamp  # a broken rewrite keeps the keys read before
        log.info("jwks_file_read", path=str(self.path), kids=sorted(keys))
        return True

    def find(self, kid: str | None) -> PublicKey | None:
        with self._lock:
            self._reload()
            return _pick(self._keys, kid)


class _UrlKeys:
    """A JWKS URL through ``PyJWKClient`` (its set cache); an unknown kid refetches, at most every 30 s.

    When a fetch fails, the keys fetched before stay in use, and the URL is not tried again for
    ``RETRY_S``: an outage of the provider neither locks out users nor makes each request wait
    out the timeout.
    """

    def __init__(self, url: str, cache_s: float, timeout_s: float) -> None:
        self.url = url
        self._client = jwt.PyJWKClient(url, cache_keys=False, cache_jwk_set=True, lifespan=cache_s,
                                       timeout=timeout_s)  # fmt: skip
        self._lock = threading.Lock()  # one fetch at a time; the others wait for its keys
        self._refreshed_at = -REFRESH_COOLDOWN_S
        self._last_good: dict[str, PublicKey] = {}
        self._failed: tuple[float, str] | None = None  # when the last fetch failed, and why

    def _keys(self, refresh: bool) -> dict[str, PublicKey]:
        if self._failed is not None and time.monotonic() - self._failed[0] < RETRY_S:
            if self._last_good:
                return self._last_good
            raise KeysUnavailable(self._failed[1])
        keys: dict[str, PublicKey] = {}
        try:
            keys = _signing_keys(self._client.get_jwk_set(refresh).keys)
            problem = "" if keys else f"{self.url} lists no public signing keys"
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError) as exc:  # ValueError: not JSON
            problem = f"the identity provider's keys could not be fetched from {self.url}: {exc}"
        if not problem:
            self._last_good, self._failed = keys, None
            return keys
        self._failed = (time.monotonic(), problem)
        log.warning("jwks_fetch_failed", url=self.url, problem=problem, keeps_previous_keys=bool(self._last_good))
        if self._last_good:
            return self._last_good
        raise KeysUnavailable(problem)

    def find(self, kid: str | None) -> PublicKey | None:
        with self._lock:
            key = _pick(self._keys(refresh=False), kid)
            if key is None and time.monotonic() - self._refreshed_at >= REFRESH_COOLDOWN_S:
                self._refreshed_at = time.monotonic()  # a rotated key: the cached set may predate it
                key = _pick(self._keys(refresh=True), kid)
            return key


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, else by dotted path into nested objects (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _strings(value: Any, *, split: bool = False) -> frozenset[str]:
    """A claim's values: a list of strings, or one string (space-separated values with ``split``, scope style)."""
    if isinstance(value, str):
        return frozenset(value.split()) if split else frozenset({value} if value else ())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str) and v)
    return frozenset()


_REJECTIONS: tuple[tuple[type[jwt.PyJWTError], Reason, str], ...] = (  # most specific first
    (jwt.ExpiredSignatureError, "expired", "it has expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid", "it is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidIssuerError, "wrong_issuer", "its issuer (iss) is not the configured one"),
    (jwt.InvalidAudienceError, "wrong_audience", "its audience (aud) is not the configured one"),
    (jwt.MissingRequiredClaimError, "missing_claim", "a required claim is missing"),
    (jwt.InvalidSignatureError, "bad_signature", "its signature does not verify with the provider's key"),
    (jwt.InvalidAlgorithmError, "algorithm", "its algorithm is not accepted"),
    (jwt.InvalidKeyError, "algorithm", "the provider's key does not fit its algorithm"),
    (jwt.PyJWTError, "malformed", "it could not be decoded"),
)


class JwtVerifier:
    """Verifies an identity provider's JWTs and maps their claims to a ``Principal`` (kind ``user``).

    Example::

        verifier = JwtVerifier.from_settings(AuthSettings(jwt_jwks="/etc/ragqa/jwks.json",
                                                          jwt_issuer="https://sso.example.com/realms/acme",
                                                          jwt_audience="ragqa"))
        verifier.principal(token)  # Principal('ana', 'user', roles=..., groups=frozenset({'legal'}))
    """

    def __init__(self, keys: _FileKeys | _UrlKeys, auth: AuthSettings) -> None:
        self._keys = keys
        self._auth = auth

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> JwtVerifier | None:
        """None when ``jwt_jwks`` is unset; raises ``ConfigurationError`` for a file with no usable keys."""
        source = auth.jwt_jwks
        if source is None:
            return None
        if auth.jwt_audience is None:
            log.warning("jwt_audience_unset", hint="tokens the provider issues for any application are accepted: "
                        "set RAGQA_AUTH__JWT_AUDIENCE")  # fmt: skip
        if auth.jwt_issuer is None:
            log.warning("jwt_issuer_unset", hint="set RAGQA_AUTH__JWT_ISSUER")
        if "://" in source:
            return cls(_UrlKeys(source, auth.jwt_jwks_cache_s, auth.jwt_jwks_timeout_s), auth)
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"RAGQA_AUTH__JWT_JWKS: no JWKS file at {path} (a path, or an https URL)")
        return cls(_FileKeys(path), auth)

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of ``token``; raises ``InvalidToken`` (or ``KeysUnavailable``)."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("malformed", f"it is longer than {MAX_TOKEN_CHARS} characters")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed", f"it is not a JWT ({exc})") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise InvalidToken("algorithm", f"it is signed with {_shown(alg)}; "
                               f"only {', '.join(ALGORITHMS)} are accepted")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed", "its key id (kid) is not a string")
        key = self._keys.find(kid)
        if key is None:
            raise InvalidToken("unknown_key", f"its key id {_shown(kid)} is not among the identity provider's keys"
                               if kid is not None else "it names no key id (kid) and the provider has several keys")
        if not _fits(key, alg):
            raise InvalidToken("algorithm", f"the key {_shown(kid)} cannot verify {alg}")
        auth = self._auth
        required = ["exp"] + ["iss"] * (auth.jwt_issuer is not None) + ["aud"] * (auth.jwt_audience is not None)
        try:
            return jwt.decode(token, key, algorithms=[alg], issuer=auth.jwt_issuer, audience=auth.jwt_audience,
                              leeway=LEEWAY_S, options={"require": required, "verify_aud": "aud" in required})
        except jwt.PyJWTError as exc:
            reason, message = next((r, m) for error, r, m in _REJECTIONS if isinstance(exc, error))
            claim = f": {exc.claim}" if isinstance(exc, jwt.MissingRequiredClaimError) else ""
            raise InvalidToken(reason, message + claim) from exc

    def principal(self, token: str) -> Principal:
        """The user ``token`` stands for; raises ``InvalidToken`` saying what was wrong (or ``KeysUnavailable``)."""
        claims = self.claims(token)
        auth = self._auth
        name = _claim(claims, auth.jwt_name_claim)
        if not isinstance(name, str) or not name:
            name = claims.get("sub")
        if not isinstance(name, str) or not name:
            raise InvalidToken("missing_claim", f"it has neither {auth.jwt_name_claim!r} nor 'sub'")
        roles_claim = _claim(claims, auth.jwt_roles_claim)
        if roles_claim is None:
            roles = frozenset(auth.jwt_default_roles)
        else:
            given = {value.lower() for value in _strings(roles_claim, split=True)}
            roles = frozenset(role for role in ROLES if role in given)  # unknown values are ignored
        collections = None
        if auth.jwt_collections_claim is not None:
            collections = _strings(_claim(claims, auth.jwt_collections_claim))
        return Principal(name, "user", roles=roles, collections=collections,
                         groups=_strings(_claim(claims, auth.jwt_groups_claim)))
