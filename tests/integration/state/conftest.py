"""The shared Redis for the state stores' tests, each test under a key prefix of its own (deleted after)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.environment import require
from tests.support.services import SHARED_REDIS, delete_prefix, redis_reachable


@pytest.fixture(scope="session")
def redis_url() -> str:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    return SHARED_REDIS


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"ragqa-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(redis_url, prefix)
