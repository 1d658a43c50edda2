"""Settings of single sign-on: JWT bearer tokens from an identity provider (the ``auth`` section).

A token's signature is checked against the provider's published keys (``jwt_jwks``), then its
claims become a principal (``core.access.Principal``, kind ``user``): a name, groups (which
document ACLs name as ``group:NAME``), roles and, optionally, collections.

    >>> from core.settings import Settings
    >>> Settings(auth={"jwt_issuer": "https://id.example"}).auth.jwt_issuer
    'https://id.example'
    >>> AuthSettings(jwt_jwks="https://id.example/certs", jwt_roles_claim="realm_access.roles").jwt_default_roles
    ['ask']
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from core.access import Role
from core.section import Section

# Plain http only to the machine itself (a test server, a sidecar); anywhere else the keys could be swapped in transit.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _ask_only() -> list[Role]:
    return ["ask"]


class AuthSettings(Section):
    jwt_jwks: str | None = Field(
        default=None,
        description="Where the identity provider's signing keys are: a JWKS file path or an https URL "
        "(plain http only to 127.0.0.1/localhost). Unset: JWT bearer tokens are not accepted (API keys "
        "and widget tokens still are).",
    )
    jwt_issuer: str | None = Field(
        default=None,
        description="The `iss` a token must carry (e.g. https://sso.example.com/realms/acme). Unset: not checked.",
    )
    jwt_audience: str | None = Field(
        default=None,
        description="The `aud` a token must carry (the client id or application URI the provider issues "
        "tokens for). Unset: not checked, and any application of the same provider could use its tokens here.",
    )
    jwt_name_claim: str = Field(
        default="preferred_username",
        description="Claim holding the user's name (their `user:NAME` in document ACLs); a token without "
        "it falls back to `sub`. A dotted path reaches into a nested claim.",
    )
    jwt_groups_claim: str = Field(
        default="groups",
        description="Claim listing the user's groups (their `group:NAME` in document ACLs). A dotted path "
        "reaches into a nested claim; a token without it has no groups.",
    )
    jwt_roles_claim: str = Field(
        default="roles",
        description="Claim listing the user's roles among ask, ingest and admin (any case; other values "
        "are ignored). A dotted path reaches into a nested claim (Keycloak: `realm_access.roles`). A token "
        "without the claim gets `jwt_default_roles`.",
    )
    jwt_default_roles: list[Role] = Field(
        default_factory=_ask_only,
        description="Roles of a token that carries no roles claim (JSON list, e.g. [\"ask\"]; [] for none).",
    )
    jwt_collections_claim: str | None = Field(
        default=None,
        description="Claim listing the collections a user may use. Unset: every collection. Set: only "
        "those the claim lists (none when the token lacks it).",
    )
    jwt_jwks_cache_s: float = Field(
        default=300.0, gt=0,
        description="How long keys fetched from a JWKS URL are reused, in seconds. A token naming an "
        "unknown key id fetches them again, at most once per 30 seconds.",
    )  # fmt: skip
    jwt_jwks_timeout_s: float = Field(
        default=5.0, gt=0, description="Timeout of one fetch of a JWKS URL, in seconds.",
    )  # fmt: skip

    @field_validator("jwt_jwks")
    @classmethod
    def _https_or_loopback(cls, value: str | None) -> str | None:
        if value is None or "://" not in value:
            return value  # a file path
        parts = urlsplit(value.strip())
        if parts.scheme == "https" and parts.hostname:
            return value.strip()
        if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
            return value.strip()
        raise ValueError(f"JWKS URL {value!r} must be https (plain http only to 127.0.0.1 or localhost)")
