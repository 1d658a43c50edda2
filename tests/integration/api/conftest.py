"""Fixtures of the API integration tests: the shared Redis (our own key prefix), an embedded Qdrant
store in a temporary folder holding a few articles, the real embedder, and SmolLM2 behind
``llama_cpp.server`` (the generation suite's fixture).

One app and one ingested store serve most tests (session scope); tests that need other
settings (auth, limits, a dead LLM or Redis) build another app over the same parts.
A missing service fails these tests in CI and skips them elsewhere, with the reason.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from core.settings import Settings
from ingest.sources import iter_sources
from tests.support.environment import require
from tests.support.services import SHARED_REDIS, LLMServer, RedisServer, delete_prefix, free_port, redis_reachable

COLLECTION = "docs"
CORPUS = ("set1/a1.txt", "set1/a7.txt", "set1/a10.txt")  # kangaroo, otter, duck: ~50 chunks
SHARED_PARTS = ("embedder", "sparse", "index", "reranker", "retriever")


@pytest.fixture(scope="session")
def redis_url() -> str:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    return SHARED_REDIS


@pytest.fixture(scope="session")
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"ragqa-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(redis_url, prefix)


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


@pytest.fixture(scope="session")
def api_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str,
                 llm_server: LLMServer) -> Settings:
    return make_settings(tmp_path_factory.mktemp("api"), redis_url, key_prefix, llm_server.base_url)


@pytest.fixture(scope="session")
def components(api_settings: Settings, embedder: Any, corpus_dir: Path) -> Iterator[Components]:
    """The shared parts, holding the small corpus in collection ``docs``."""
    parts = Components(api_settings)
    parts.__dict__["embedder"] = embedder  # the session's model: loaded once for every suite
    sources = [s for s in iter_sources([corpus_dir]) if s.doc_id in CORPUS]
    report = parts.pipeline.ingest(sources, COLLECTION)
    assert report.counts()["added"] == len(CORPUS), report.to_dict()
    yield parts
    parts.close()


def sharing(base: Components, settings: Settings) -> Components:
    """Components with other settings (LLM, Redis, API) over the same index and embedder."""
    parts = Components(settings)
    for name in SHARED_PARTS:
        parts.__dict__[name] = getattr(base, name)
    return parts


@pytest.fixture(scope="session")
def client(api_settings: Settings, components: Components) -> Iterator[TestClient]:
    """The main app, started once (its lifespan runs for the whole session)."""
    with TestClient(create_app(api_settings, components)) as test_client:
        yield test_client


@pytest.fixture
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def wait_for_job(client: TestClient, job_id: str, timeout_s: float = 60.0, **kwargs: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}", **kwargs).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished after {timeout_s} s")


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    import shutil

    require(shutil.which("redis-server") is not None, "the redis-server binary on PATH")
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


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


@pytest.fixture(scope="session")
def live_server(api_settings: Settings, components: Components) -> Iterator[LiveServer]:
    with LiveServer(create_app(api_settings, components)) as server:
        yield server
