"""The API's settings (``api.*``): where it listens, who may call it, what a request may cost.

    >>> ApiSettings(host="0.0.0.0").binds_beyond_loopback
    True
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field

from core.section import Section


class ApiSettings(Section):
    host: str = Field(default="127.0.0.1", description="Address `ragqa serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `ragqa serve` listens on.")
    api_keys_sha256: list[str] = Field(
        default_factory=list,
        description="SHA-256 hex digests of admin API keys (never the keys themselves): each may do "
        "everything. Scoped keys (roles, collections, groups) are made with `ragqa keys create`. Clients "
        "send `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
    )
    require_auth: bool = Field(
        default=False,
        description="Every request needs a credential: an API key, a scoped key (`ragqa keys`), a JWT "
        "(`auth.jwt_jwks`) or a widget token. On by itself when `api_keys_sha256` or `auth.jwt_jwks` is "
        "set. Off: a request without a credential may do everything (one machine, no users).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (CORS allowlist), and the only other "
        "origins whose browser pages may upload, delete or send feedback (besides the API's own pages).",
    )
    insecure: bool = Field(
        default=False,
        description="Let `ragqa serve` bind an address other than loopback with no API keys configured "
        "(anyone who reaches the port could then read and replace every document). `ragqa serve "
        "--insecure` sets it; meant for a container whose port is published on loopback only.",
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Addresses (or networks) of the reverse proxies whose `X-Forwarded-For` / "
        "`X-Forwarded-Proto` are believed: the client address (and its rate limit) comes from them only "
        "for requests that arrive from these. Empty: the headers are ignored. Uvicorn's own "
        "`FORWARDED_ALLOW_IPS` environment variable is read when this is unset.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest JSON request body; larger ones get 413."
    )
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest `POST /documents` request (all files together); larger ones get 413.",
    )
    upload_dir: Path = Field(
        default=Path("./data/uploads"),
        description="Where uploaded files wait for ingestion (one folder per job, removed when done).",
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Sustained requests per minute per API key (per client address without keys); "
        "0 disables rate limiting.",
    )
    rate_limit_burst: int = Field(default=60, ge=1, description="Requests a client may make at once (bucket size).")
    answer_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="The answer's deadline, counted from the request's arrival (waiting for the model "
        "included). A generation that cannot start or finish 2 s before it gives way to the answer built "
        "from the evidence; only a request that cannot even retrieve in time gets 504.",
    )
    answer_threads: int | None = Field(
        default=None,
        ge=1,
        description="Questions answered at once (the rest wait, their deadline running). Unset: the CPU "
        "cores, plus `llm.max_waiting` + 1 when the in-process model generates (those threads mostly wait "
        "for it). More threads than cores only slow every answer and the health checks.",
    )
    experiments_refresh_s: float = Field(
        default=5.0, ge=0, le=3600,
        description="How long an API process keeps the live experiments it read from Redis (`ragqa experiments`) "
        "before reading them again: a create or a stop reaches every process within this. 0: read them for "
        "every question (two Redis calls more per question).",
    )
    llm_probe_timeout_s: float = Field(
        default=1.0, gt=0, description="Timeout of the LLM server check in `/readyz`."
    )
    torch_threads: int | None = Field(
        default=1,
        ge=1,
        description="The embedder's intra-op threads in the API process (the name is historical): "
        "onnx-int8's sessions for queries and documents (and the planted-instruction detector's "
        "encoder), or torch's (process-wide) on the sentence-transformers backend. 1 keeps one query's "
        "embedding fast and steady (measured on 2 busy cores with torch: ~10 ms with 1 thread, ~500 ms "
        "with 2, as threads wait on each other); "
        "concurrency comes from requests instead. Unset: `embedding.threads` for documents, 1 for queries "
        "(onnx-int8), torch's default (sentence-transformers).",
    )
    openai_append_references: bool = Field(
        default=True,
        description="`/v1/chat/completions` also lists the sources as numbered references at the end of "
        "the answer's `content`, so that chat UIs that show only `content` (Open WebUI, LibreChat) show "
        "them. A request overrides it with `\"ragqa\": {\"append_references\": false}` (clients that read "
        "the `citations` extension field, which is always there).",
    )

    @property
    def binds_beyond_loopback(self) -> bool:
        """Whether ``host`` is reachable from other machines (a name other than localhost counts)."""
        return not is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost``.

    >>> is_loopback("127.0.0.2"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False
