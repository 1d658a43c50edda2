"""Serving the app with uvicorn: one process, since the embedded store and the in-process job
runner belong to a single process (scale out with a Qdrant server, Redis and Celery workers).

Example::

    run_server(Settings(), host="0.0.0.0", port=8000)
    ask_once(Settings(), "How are documents chunked?")["answer"]["text"]
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from core.errors import RagqaError
from core.settings import Settings


def run_server(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Blocks until SIGINT / SIGTERM; the lifespan then stops the job runner and closes the store."""
    uvicorn.run(
        create_app(settings), host=host or settings.api.host, port=port or settings.api.port, workers=1,
        log_level=settings.log_level.lower(), proxy_headers=True, timeout_graceful_shutdown=10,
    )  # fmt: skip


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
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=_free_port(),
                            log_level="warning", lifespan="on")  # fmt: skip
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
