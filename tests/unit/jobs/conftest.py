from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobs.store import JobStore
from state.endpoint import RedisEndpoint
from tests.support.jobs import ScriptedPipeline, embedded_redis, job_store


@pytest.fixture(scope="session")
def redis_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisEndpoint]:
    with embedded_redis(tmp_path_factory.mktemp("redis")) as endpoint:
        yield endpoint


@pytest.fixture
def store(redis_endpoint: RedisEndpoint) -> JobStore:
    return job_store(redis_endpoint)


@pytest.fixture
def pipeline() -> ScriptedPipeline:
    return ScriptedPipeline()
