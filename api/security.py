"""Credentials: who a request comes from (a ``core.access.Principal``).

API keys are stored as SHA-256 digests only. The per-caller rate limit, kept in Redis, is
``state.rate_limit.RateLimiter``.

    >>> import asyncio
    >>> auth = Authenticator([hash_key("s3cret")])
    >>> asyncio.run(auth.authenticate({"x-api-key": "s3cret"})).roles == frozenset(ROLES)
    True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import anyio

from core.access import OPEN, ROLES, Principal
from core.errors import StoreUnavailable, Unauthorized
from state.api_keys import KeyLookup


def hash_key(key: str) -> str:
    """The digest to put in ``api.api_keys_sha256`` for a key (``ragqa serve --hash-key`` prints it)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a client sent: ``Authorization: Bearer <key>`` (what OpenAI SDKs send) or ``X-API-Key``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


class TokenVerifier(Protocol):
    """Single sign-on: a bearer token's principal (``api.jwt_auth.JwtVerifier``)."""

    def principal(self, token: str) -> Principal: ...


class Authenticator:
    """Who a request comes from: an admin key (``api.api_keys_sha256``), a scoped key (``ragqa keys``),
    or a JWT from the identity provider; without a credential, the open principal, unless
    credentials are required (``api.require_auth``, on by itself with admin keys or a JWKS).

    Example::

        principal = await auth.authenticate(request.headers)   # raises Unauthorized
    """

    def __init__(self, admin_digests: Sequence[str], lookup: KeyLookup | None = None,
                 verifier: TokenVerifier | None = None, required: bool = False,
                 looks_like_token: Callable[[str], bool] = lambda key: False) -> None:
        self._digests = [d.strip().lower() for d in admin_digests if d.strip()]
        self._lookup = lookup
        self._verifier = verifier
        self._looks_like_token = looks_like_token
        self.enabled = required or bool(self._digests) or verifier is not None

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        key = presented_key(headers)
        if key is None:
            if self.enabled:
                raise Unauthorized("a credential is required: send `Authorization: Bearer <key or token>` "
                                   "or `X-API-Key`")
            return OPEN
        if self._verifier is not None and self._looks_like_token(key):
            # A thread: fetching the provider's keys (first use, expiry, an unknown key id) blocks.
            return await anyio.to_thread.run_sync(self._verifier.principal, key)
        digest = hash_key(key)
        # Every admin digest is compared, match or not, so timing reveals nothing about which matched.
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(digest, known)
        if matched:
            return Principal(f"admin-{digest[:8]}", "key", roles=frozenset(ROLES))
        try:
            found = await self._lookup.principal(digest) if self._lookup is not None else None
        except StoreUnavailable:
            if self.enabled:
                raise  # a scoped key cannot be checked: refused (503), never let through
            found = None
        if found is not None:
            return found
        if not self.enabled:
            # No credential is required: an unknown one is no credential (OpenAI SDKs always send one).
            return OPEN
        raise Unauthorized("the API key is not valid (or was revoked)")
