"""Serving the app with uvicorn: one process, since the embedded store and the in-process job
runner belong to a single process (scale out with a Qdrant server, Redis and Celery workers).

Example::

    run_server(Settings(), host="0.0.0.0", port=8000)
    ask_once(Settings(), "How are documents chunked?")["answer"]["text"]
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from api.app import create_app
from core.api_settings import is_loopback
from core.errors import ConfigurationError, RagqaError
from core.settings import Settings


def trusted_proxies(settings: Settings) -> list[str]:
    """The proxies whose ``X-Forwarded-*`` headers are believed: ``api.forwarded_allow_ips``, else
    uvicorn's ``FORWARDED_ALLOW_IPS``, else none. Uvicorn's own default trusts 127.0.0.1, which let
    anyone reaching the API on loopback pick a new client address (and rate-limit bucket) per request."""
    if settings.api.forwarded_allow_ips:
        return list(settings.api.forwarded_allow_ips)
    from_env = os.environ.get("FORWARDED_ALLOW_IPS", "")
    return [part.strip() for part in from_env.split(",") if part.strip()]


def check_bind(settings: Settings, host: str) -> None:
    """Refuses to listen beyond loopback when requests need no credential, unless ``api.insecure`` says to."""
    api = settings.api
    if is_loopback(host) or api.api_keys_sha256 or api.require_auth or settings.auth.jwt_jwks or api.insecure:
        return
    raise ConfigurationError(
        f"refusing to serve on {host} with no API keys: anyone who reaches this port could read, replace "
        "and delete every document. Configure keys (ragqa serve --hash-key KEY prints the digest for "
        "RAGQA_API__API_KEYS_SHA256; or scoped keys, `ragqa keys create`, with RAGQA_API__REQUIRE_AUTH=true), "
        "bind 127.0.0.1, or pass --insecure (RAGQA_API__INSECURE=true) if "
        "the port is reachable only by people you trust")  # fmt: skip


def server_config(settings: Settings, host: str | None = None, port: int | None = None, *,
                  app: ASGIApp | None = None, **extra: Any) -> uvicorn.Config:
    """The uvicorn configuration ``ragqa serve`` runs with (raises ConfigurationError, see ``check_bind``);
    ``app`` defaults to ``create_app(settings)``."""
    bind = host or settings.api.host
    check_bind(settings, bind)
    proxies = trusted_proxies(settings)
    # log_config=None: uvicorn's loggers (its access log included) go through ours (core/logging.py),
    # as JSON lines too when log_json is on.
    options: dict[str, Any] = {"log_level": settings.log_level.lower(), "timeout_graceful_shutdown": 10,
                               "log_config": None, **extra}
    return uvicorn.Config(app or create_app(settings), host=bind, port=port or settings.api.port, workers=1,
                          proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None, **options)


def serving_file(settings: Settings) -> Path:
    """Where ``ragqa serve`` notes the address it serves an embedded store on (beside the store), so a
    local ``ragqa ingest`` that finds the store locked can name the right ``--server`` URL."""
    store = settings.qdrant.path.resolve()
    return store.with_name(store.name + ".serving.json")


def noted_server(settings: Settings) -> str | None:
    """The URL a running ``ragqa serve`` of this store noted it listens on; None when no live server did."""
    try:
        noted = json.loads(serving_file(settings).read_text())
        host, port, pid = str(noted["host"]), int(noted["port"]), int(noted["pid"])
        os.kill(pid, 0)  # still running (a crashed server leaves its note behind)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _url(host, port)


def served_url(settings: Settings) -> str:
    """The URL a running ``ragqa serve`` of this store listens on, else the configured one."""
    return noted_server(settings) or _url(settings.api.host, settings.api.port)


def _url(host: str, port: int) -> str:
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{host}:{port}"


def run_server(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Blocks until SIGINT / SIGTERM; the lifespan then stops the job runner and closes the store."""
    config = server_config(settings, host, port)
    note = serving_file(settings) if not settings.qdrant.url else None
    if note is not None:
        with contextlib.suppress(OSError):
            note.write_text(json.dumps({"host": config.host, "port": config.port, "pid": os.getpid()}))
    try:
        uvicorn.Server(config).run()
    finally:
        if note is not None:
            with contextlib.suppress(OSError):
                note.unlink()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ask_once(settings: Settings, question: str, collection: str | None = None,
             timeout_s: float = 600.0) -> dict[str, Any]:
    """Start the server on a free local port, ask one question over HTTP, stop: a smoke test that ends.

    Returns ``{"ready": <GET /readyz body>, "answer": <POST /ask body>}``.
    """
    config = server_config(settings, "127.0.0.1", _free_port(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ragqa-serve-once", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RagqaError("the API server did not start (see the log above)")
            time.sleep(0.05)
        if settings.api.api_keys_sha256:
            raise RagqaError("--ask-once cannot authenticate: unset api.api_keys_sha256 for the smoke test")
        with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=timeout_s) as http:
            ready = http.get("/readyz").json()
            body: dict[str, Any] = {"question": question}
            if collection:
                body["collection"] = collection
            answer = http.post("/ask", json=body).json()
        return {"ready": ready, "answer": answer}
    finally:
        server.should_exit = True
        thread.join(timeout=60)
