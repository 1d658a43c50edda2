from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.spec import JobFile, JobSpec, new_job_id
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


def make_spec(folder: Path, *names: str, owns_files: bool = True) -> JobSpec:
    spool = folder / "spool" / new_job_id()
    spool.mkdir(parents=True)
    files = []
    for name in names:
        (spool / name).write_text(f"text of {name}")
        files.append(JobFile(name, name, spool / name))
    return JobSpec(new_job_id(), "docs", tuple(files), owns_files=owns_files)
