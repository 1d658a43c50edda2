"""Fixtures of the API integration tests: the shared Redis (our own key prefix), an embedded Qdrant
store in a temporary folder holding a few articles, the real embedder, and SmolLM2 behind
``llama_cpp.server`` (the generation suite's fixture).

One app and one ingested store serve most tests (session scope); tests that need other
settings (auth, limits, a dead LLM or Redis) build another app over the same parts.
A missing service fails these tests in CI and skips them elsewhere, with the reason.
"""

from __future__ import annotations

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
from tests.support.api import COLLECTION, CORPUS, LiveServer, make_settings
from tests.support.environment import require
from tests.support.services import SHARED_REDIS, LLMServer, RedisServer, delete_prefix, free_port, redis_reachable


@pytest.fixture(scope="session")
def redis_url() -> str:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    return SHARED_REDIS


@pytest.fixture(scope="session")
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"ragqa-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(redis_url, prefix)


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


@pytest.fixture(scope="session")
def client(api_settings: Settings, components: Components) -> Iterator[TestClient]:
    """The main app, started once (its lifespan runs for the whole session)."""
    with TestClient(create_app(api_settings, components)) as test_client:
        yield test_client


@pytest.fixture
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    import shutil

    require(shutil.which("redis-server") is not None, "the redis-server binary on PATH")
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_server(api_settings: Settings, components: Components) -> Iterator[LiveServer]:
    with LiveServer(create_app(api_settings, components)) as server:
        yield server
