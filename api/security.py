"""API keys, stored as SHA-256 digests: who a request comes from.

The per-key rate limit, kept in Redis, is ``state.rate_limit.RateLimiter``.

    >>> keys = ApiKeys([hash_key("s3cret")])
    >>> keys.identify("s3cret") == hash_key("s3cret")
    True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from core.errors import Unauthorized


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


class ApiKeys:
    """The configured keys; with none configured, authentication is off.

    Example::

        identity = keys.identify(presented_key(request.headers))   # raises Unauthorized
    """

    def __init__(self, digests: Sequence[str]) -> None:
        self._digests = [d.strip().lower() for d in digests if d.strip()]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def identify(self, key: str | None) -> str:
        """The digest of a valid key (the caller's identity); compares in constant time."""
        if key is None:
            raise Unauthorized("an API key is required: send `Authorization: Bearer <key>` or `X-API-Key`")
        digest = hash_key(key)
        # Every digest is compared, match or not, so timing reveals nothing about which matched.
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise Unauthorized("the API key is not valid")
        return digest
