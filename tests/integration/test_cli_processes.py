"""No `ragqa` command leaves its embedded redis-server running: on success, on errors, on SIGTERM.

Each test's commands keep their stores in its own folder (``tests.support.processes``).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import Running, assert_none_left, cli_env, ragqa, servers_in, stop_leftovers, wait_healthy
from tests.support.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """The test's data folder; whatever a failed test left running there is stopped afterwards."""
    (tmp_path / "redis").mkdir()
    yield tmp_path
    stop_leftovers(tmp_path)


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return cli_env(home)


@pytest.mark.parametrize(("args", "code"), [
    (("jobs", "show", "missing"), 2),
    (("jobs", "cancel", "missing"), 2),
    (("jobs", "show", "missing", "--json"), 2),
    (("jobs",), 0),
    (("feedback", "export"), 0),
    (("feedback", "export", "--out", "{home}/no/such/folder/rows.jsonl"), 2),
    (("golden", "update", "{home}/golden.jsonl", "--collection", "docs", "--corpus", "{home}"), 0),
    (("ingest", "--queue", "{home}/missing"), 2),
])
def test_commands_stop_their_redis_on_every_exit(env: dict[str, str], home: Path, args: tuple[str, ...],
                                                 code: int) -> None:
    run = ragqa(env, *(a.format(home=home) for a in args))
    assert run.returncode == code, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert_none_left(home / "redis")


def test_a_queued_ingest_a_followed_job_and_a_worker_stop_theirs(env: dict[str, str], home: Path) -> None:
    docs = home / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("Otters hold hands while they sleep.\n")
    queued = ragqa(env, "ingest", "--queue", str(docs), "--json")  # Celery's broker pool holds connections too
    assert queued.returncode == 0, queued.stdout + queued.stderr
    job_id = json.loads(queued.stdout)["job_id"]
    assert_none_left(home / "redis")

    following = Running(env, home / "follow.log", "jobs", "show", job_id, "--wait")  # no worker: forever
    deadline = time.monotonic() + 60
    while not servers_in(home / "redis") and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # past the first read: now in the follow loop
    assert following.terminate() == 128 + signal.SIGTERM, following.output()
    assert_none_left(home / "redis")

    worker = Running(env, home / "worker.log", "worker")
    deadline = time.monotonic() + 300
    while '"state": "done"' not in ragqa(env, "jobs", "show", job_id, "--json").stdout.partition('"documents"')[0]:
        assert worker.alive() and time.monotonic() < deadline, worker.output()
        time.sleep(1.0)
    assert worker.terminate() in (0, 128 + signal.SIGTERM), worker.output()
    assert_none_left(home / "redis")


def test_a_terminated_server_stops_its_redis(env: dict[str, str], home: Path) -> None:
    port = free_port()
    server = Running(env, home / "serve.log", "serve", "--port", str(port))
    wait_healthy(server, port)
    assert servers_in(home / "redis"), "the server should have started its embedded Redis"
    assert server.terminate() in (0, 128 + signal.SIGTERM), server.output()
    assert "Traceback" not in server.output(), server.output()
    assert_none_left(home / "redis")


def test_jobs_after_a_local_ingest_says_why_there_is_none(tmp_path: Path) -> None:
    from cli.jobs_cmd import NO_JOBS_HINT

    env = cli_env(tmp_path / "home")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("Kettles are descaled every two months with citric acid.")
    assert ragqa(env, "ingest", str(docs), "--json").returncode == 0
    listed = ragqa(env, "jobs")
    assert listed.returncode == 0, listed.stderr
    assert " ".join(listed.stdout.split()) == " ".join(NO_JOBS_HINT.split())


def test_with_json_logs_every_line_of_serve_is_json_access_log_included(home: Path) -> None:
    import urllib.request

    env = {**cli_env(home), "RAGQA_LOG_JSON": "true", "RAGQA_LOG_LEVEL": "info"}
    port = free_port()
    server = Running(env, home / "serve-json.log", "serve", "--port", str(port))
    try:
        wait_healthy(server, port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            assert response.status == 200
    finally:
        assert server.terminate() in (0, 128 + signal.SIGTERM), server.output()
    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line: a JSON object, uvicorn's included
    assert any(r.get("logger", "").startswith("uvicorn") for r in records), lines
    assert any("GET /readyz" in str(r.get("event")) for r in records), lines  # the access log
