"""Helpers of the API integration tests: their settings, components over a shared index, a live
uvicorn server, and polling a job to its end.

    >>> parts = sharing(components, make_settings(tmp_path, redis_url, prefix, llm_url))  # doctest: +SKIP
    >>> with LiveServer(create_app(settings, parts)) as server: ...  # doctest: +SKIP
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bootstrap.components import Components
from core.settings import Settings
from tests.support.services import free_port

COLLECTION = "docs"
CORPUS = ("set1/a1.txt", "set1/a7.txt", "set1/a10.txt")  # kangaroo, otter, duck: ~50 chunks
SHARED_PARTS = ("embedder", "sparse", "index", "reranker", "retriever", "instruction_encoder", "instruction_vectors")


def make_settings(tmp: Path, redis_url: str, prefix: str, llm_url: str, **overrides: Any) -> Settings:
    sections: dict[str, Any] = {
        "qdrant": {"path": tmp / "qdrant"},
        "redis": {"url": redis_url, "key_prefix": prefix, "breaker_reset_s": 1.0},
        "llm": {"base_url": llm_url, "model": "smollm2-135m-instruct", "max_tokens": 12, "timeout_s": 60,
                "max_retries": 0, "temperature": 0.0, "seed": 7},
        "retrieval": {"top_k": 1},  # one passage: the prompt stays short (~350 tokens) for SmolLM2 on 2 cores
        # torch_threads unset: setting it is process-wide, and other suites share this process.
        "api": {"upload_dir": tmp / "uploads", "rate_limit_per_minute": 0, "torch_threads": None},
    }  # fmt: skip
    for section, values in overrides.items():
        sections[section] = {**sections.get(section, {}), **values}
    return Settings(**sections)


def sharing(base: Components, settings: Settings) -> Components:
    """Components with other settings (LLM, Redis, API) over the same index and embedder."""
    parts = Components(settings)
    for name in SHARED_PARTS:
        parts.__dict__[name] = getattr(base, name)
    return parts


def wait_for_job(client: TestClient, job_id: str, timeout_s: float = 60.0, **kwargs: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}", **kwargs).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished after {timeout_s} s")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class LiveServer:
    """The app under a real uvicorn on 127.0.0.1 (a free port), in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
