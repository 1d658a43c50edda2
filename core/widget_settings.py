"""Settings of the chat web widget: the ``widget`` section of ``Settings``.

A widget token is public (it sits in the host page's HTML), so it grants little: asking the
collections it names, from the origins it names, under its own rate limits. It never grants
the admin routes (uploads, jobs, deletes); those need an API key::

    >>> WidgetSettings(tokens=[{"token": "pk_demo_0123456789abcdef", "origins": ["https://www.example.com/"],
    ...                         "collections": ["docs"]}]).tokens[0].origins
    ['https://www.example.com']
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from core.section import Section

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin``: lower case, no default port, no slash.

    Raises ``ValueError`` for anything else (a path, a query, a wildcard, another scheme).
    """
    raw = origin.strip()
    parts = urlsplit(raw)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"origin {origin!r} must look like https://www.example.com (http or https, a host)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or "*" in raw:
        raise ValueError(f"origin {origin!r} must be scheme://host[:port] only: no path, query or wildcard")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"origin {origin!r} has an invalid port") from exc
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets in an origin
        host = f"[{host}]"
    explicit_port = port is not None and port != _DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if explicit_port else "")


class WidgetToken(BaseModel):
    token: str = Field(
        min_length=16,
        max_length=128,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The public token a page puts in the widget's `data-token` (16-128 characters of "
        "A-Z a-z 0-9 _ -; e.g. `python -c \"import secrets; print('pk_' + secrets.token_urlsafe(24))\"`). "
        "Not a secret: its power comes from the origin check.",
    )
    origins: list[str] = Field(
        min_length=1,
        description="Pages allowed to use the token, as exact origins (`https://www.example.com`, "
        "`http://localhost:3000`): the server compares the browser's `Origin` header. These also join "
        "the CORS allowlist. The API's own origin (its demo page) is always allowed.",
    )
    collections: list[str] = Field(
        min_length=1, description="Collections the token may ask; a request for another one gets 403."
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Sustained requests per minute for the whole token (every visitor of the sites "
        "together); 0 disables this limit.",
    )
    rate_limit_burst: int = Field(default=60, ge=1, description="Requests the whole token may make at once.")

    @field_validator("origins")
    @classmethod
    def _normalized(cls, origins: list[str]) -> list[str]:
        return list(dict.fromkeys(normalize_origin(o) for o in origins))


class WidgetSettings(Section):
    enabled: bool = Field(
        default=True,
        description="Serve the widget (`/widget.js`, `/widget.css`, `/widget/config`) and accept widget "
        "tokens on `/ask`, `/chat` and `/feedback`.",
    )
    demo_page: bool = Field(
        default=True,
        description="Serve a demo page with the widget at `/` (it uses the first token that may ask "
        "`demo_collection`; with API keys on and no such token, the page says what to configure).",
    )
    demo_collection: str | None = Field(
        default=None, description="Collection the demo page asks. Unset: `ingest.default_collection`."
    )
    tokens: list[WidgetToken] = Field(
        default_factory=list,
        description="Public widget tokens, as JSON: "
        "`[{\"token\": \"pk_...\", \"origins\": [\"https://www.example.com\"], \"collections\": [\"docs\"]}]`.",
    )
    visitor_rate_limit_per_minute: int = Field(
        default=20,
        ge=0,
        description="Sustained widget requests per minute per visitor (client address) and token, so one "
        "visitor cannot use up a site's whole budget; 0 disables this limit.",
    )
    visitor_rate_limit_burst: int = Field(default=5, ge=1, description="Widget requests one visitor may make at once.")

    @model_validator(mode="after")
    def _distinct_tokens(self) -> WidgetSettings:
        seen = [t.token for t in self.tokens]
        if len(seen) != len(set(seen)):
            raise ValueError("widget.tokens: each token must appear once")
        return self

    def origins(self) -> list[str]:
        """Every origin some token allows (they join the CORS allowlist), in order, once each."""
        return list(dict.fromkeys(origin for token in self.tokens for origin in token.origins))
