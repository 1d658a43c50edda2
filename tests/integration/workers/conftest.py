"""Fixtures of the worker tests: real `ragqa worker` processes (Celery, threads pool) over Redis,
an embedded Qdrant store in a temporary folder, and small real documents.

Every test gets its own key prefix (jobs, versions) and broker key prefix (queues, unacked
tasks) on the shared Redis at 127.0.0.1:6379, and removes them after; the Redis-restart test
runs its own redis-server. Delivery is tuned short (visibility timeout 10 s, restore sweep
every second) so a crashed worker's tasks come back within seconds.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.environment import require
from tests.support.services import SHARED_REDIS, RedisServer, delete_prefix, free_port, redis_reachable
from tests.support.workers import WorkerEnv, WorkerProcess


@pytest.fixture
def worker_env(tmp_path: Path) -> Iterator[WorkerEnv]:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    env = WorkerEnv(tmp_path, SHARED_REDIS, f"ragqa-wtest-{uuid.uuid4().hex[:10]}:")
    yield env
    delete_prefix(SHARED_REDIS, env.prefix)


@pytest.fixture
def workers(worker_env: WorkerEnv) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts workers on demand; every one still running is stopped after the test."""
    started: list[WorkerProcess] = []

    def start(*args: str, launcher: list[str] | None = None, env: WorkerEnv | None = None) -> WorkerProcess:
        process = WorkerProcess(env or worker_env, f"worker-{len(started) + 1}", launcher, *args)
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, with an append-only file: it can restart with its data."""
    require(shutil.which("redis-server") is not None, "the redis-server binary on PATH")
    server = RedisServer(free_port(), tmp_path / "own-redis")
    server.start()
    yield server
    server.stop()
