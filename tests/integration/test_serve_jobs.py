"""`ragqa serve` holds the embedded store: `ragqa ingest` names the way through it, `--server` takes
it, and a job the server was running when it was killed resumes when it starts again.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import Running, cli_env, ragqa, stop_leftovers, wait_healthy
from tests.support.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    stop_leftovers(tmp_path)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait_job(base: str, job_id: str, server: Running, timeout_s: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (job := get_json(f"{base}/jobs/{job_id}"))["state"] in ("queued", "running"):
        assert server.alive() and time.monotonic() < deadline, (job, server.output())
        time.sleep(0.3)
    return job  # type: ignore[no-any-return]


def test_ingest_goes_through_the_server_that_holds_the_store_and_a_killed_job_resumes(
        home: Path, corpus_dir: Path) -> None:
    # The killed server's lease lapses in 3 s; the test polls faster than the default rate limit allows.
    env = {**cli_env(home), "RAGQA_WORKERS__INPROCESS_LEASE_S": "3", "RAGQA_API__RATE_LIMIT_PER_MINUTE": "0"}
    docs = home / "docs"
    for article in sorted((corpus_dir / "set1").glob("*.txt"))[:6]:
        (docs / "team").mkdir(parents=True, exist_ok=True)
        shutil.copy(article, docs / "team" / article.name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Running(env, home / "serve1.log", "serve", "--port", str(port))
    wait_healthy(server, port)

    local = ragqa(env, "ingest", str(docs), "--json")
    assert local.returncode == 2, local.stdout + local.stderr
    # The hint names the port being served (`--port`), not the configured one.
    assert "index_locked" in local.stdout and f"ragqa ingest --server {base} " in local.stdout, local.stdout

    first = ragqa(env, "ingest", str(docs), "--server", base, "--wait", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    job = json.loads(first.stdout)
    assert job["state"] == "done" and job["counts"]["done"] == 6
    # The ids a local ingest would give (paths under the root), not the uploads' bare names.
    assert {d["doc_id"] for d in job["documents"]} == {f"team/{p.name}" for p in (docs / "team").iterdir()}

    # A bigger job, and the server is killed while it runs it.
    for copy in range(4):
        for article in (docs / "team").iterdir():
            (docs / f"copy{copy}").mkdir(exist_ok=True)
            shutil.copy(article, docs / f"copy{copy}" / article.name)
    queued = ragqa(env, "ingest", str(docs), "--server", base, "--json")
    assert queued.returncode == 0, queued.stdout + queued.stderr
    job_id = json.loads(queued.stdout)["job_id"]
    deadline = time.monotonic() + 120
    while (progress := get_json(f"{base}/jobs/{job_id}"))["counts"]["done"] < 8:
        assert time.monotonic() < deadline, progress
        time.sleep(0.1)
    server.process.kill()  # SIGKILL: no shutdown, no lease released
    server.process.wait(timeout=30)
    stop_leftovers(home)  # its embedded Redis too, as after a power cut (the AOF keeps the jobs)

    restarted = Running(env, home / "serve2.log", "serve", "--port", str(port))
    wait_healthy(restarted, port)
    job = wait_job(base, job_id, restarted, timeout_s=300)
    assert job["state"] == "done", job
    assert job["counts"]["done"] == 30 and job["counts"]["failed"] == 0, job
    stats = get_json(f"{base}/collections")
    docs_collection = next(c for c in stats["collections"] if c["name"] == "docs")
    assert docs_collection["documents"] == 30  # each file once: nothing lost, nothing doubled
    assert "job.recovered" in restarted.log.read_text(errors="replace")
    # The resumed job's spool goes when it ends: right after the last document's state closes the
    # job, so a reader that saw "done" may be a moment early.
    deadline = time.monotonic() + 10
    while any((home / "uploads").iterdir()):
        assert time.monotonic() < deadline, list((home / "uploads").iterdir())
        time.sleep(0.1)
