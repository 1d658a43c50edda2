"""`ragqa collection reindex` while `ragqa serve` holds the embedded store and answers: the command finds
the store locked, asks the server (``POST /collections/{name}/reindex``) to re-index with the command's
chunk size, and follows the task; a client asks a question every 100 ms meanwhile. No answer may fail,
and answers asked after the switch cite only the new collection's chunks.

Real processes: the server (`ragqa serve` on a free port, its answer cache on the shared Redis under this
test's own prefix) and the command; the documents are uploaded with their file paths as sources, so the
server reads them again from their files.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bootstrap.components import Components
from core.settings import Settings
from tests.support.environment import require
from tests.support.processes import Running, cli_env, ragqa, stop_leftovers, wait_healthy
from tests.support.services import SHARED_REDIS, delete_prefix, free_port, redis_reachable

pytestmark = pytest.mark.slow  # two `ragqa` processes: ~25 s on 2 busy cores

QUESTIONS = ("What is a collective noun for kangaroos?", "Where do joeys complete postnatal development?",
             "Can otters survive in cold water?")
ARTICLES = ("set1/a1.txt", "set1/a7.txt")  # kangaroo, otter


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    prefix = f"ragqa-test-{uuid.uuid4().hex[:12]}:"
    yield {**cli_env(tmp_path), "RAGQA_REDIS__URL": SHARED_REDIS, "RAGQA_REDIS__KEY_PREFIX": prefix,
           "RAGQA_API__RATE_LIMIT_PER_MINUTE": "0", "RAGQA_CHUNKING__CHUNK_SIZE": "64",
           "RAGQA_CHUNKING__CHUNK_OVERLAP": "8"}
    stop_leftovers(tmp_path)
    delete_prefix(SHARED_REDIS, prefix)


def upload(client: httpx.Client, files: list[Path]) -> None:
    """Through the server, with each file's path as its source (what `ragqa ingest --server` sends)."""
    handles = [path.open("rb") for path in files]
    try:
        accepted = client.post("/documents", data={"collection": "docs", "doc_ids": [p.name for p in files],
                                                   "sources": [str(p) for p in files]},
                               files=[("files", (p.name, h)) for p, h in zip(files, handles, strict=True)])
    finally:
        for handle in handles:
            handle.close()
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 60
    while (job := client.get(f"/jobs/{accepted.json()['job_id']}").json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["state"] == "done" and job["counts"]["done"] == len(files), job


def test_reindex_of_a_served_embedded_store_runs_in_the_server_and_fails_no_answer(
        env: dict[str, str], tmp_path: Path, corpus_dir: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    files = [Path(shutil.copy(corpus_dir / name, docs / Path(name).name)) for name in ARTICLES]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Running(env, tmp_path / "serve.log", "serve", "--port", str(port))
    wait_healthy(server, port)
    answers: list[tuple[float, int, dict[str, Any]]] = []  # (when asked, epoch s; status; body)
    stop = threading.Event()

    with httpx.Client(base_url=base, timeout=30) as client:
        upload(client, files)
        old_chunks = next(c for c in client.get("/collections").json()["collections"] if c["name"] == "docs")["chunks"]

        def ask_every_100ms() -> None:
            n = 0
            while not stop.is_set():
                asked = time.time()
                try:
                    response = client.post("/ask", json={"question": QUESTIONS[n % len(QUESTIONS)],
                                                         "collection": "docs"})
                    answers.append((asked, response.status_code, response.json()))
                except httpx.HTTPError as exc:  # a failed answer too, not the end of the asking
                    answers.append((asked, 0, {"error": repr(exc)}))
                n += 1
                stop.wait(max(0.0, 0.1 - (time.time() - asked)))

        asker = threading.Thread(target=ask_every_100ms, name="asker")
        asker.start()
        try:
            time.sleep(1.0)  # every question answered (and cached) from the old collection first
            longer = {**env, "RAGQA_CHUNKING__CHUNK_SIZE": "160", "RAGQA_CHUNKING__CHUNK_OVERLAP": "16"}
            launched = time.time()
            command = ragqa(longer, "collection", "reindex", "docs", "--grace", "1", "--json", timeout=120)
            returned = time.time()
            time.sleep(1.0)  # and go on asking once the old collection is dropped
        finally:
            stop.set()
            asker.join(timeout=30)
    server.terminate()  # uvicorn ends by raising the SIGTERM it handled again: 143

    assert command.returncode == 0, command.stdout + command.stderr + server.output()
    report = json.loads(command.stdout)
    assert (report["old"], report["new"], report["switched"]) == ("docs", "docs__v1", True), report
    assert report["server"] == base and report["from_files"] == 2 and not report["failures"], report
    assert 0 < report["chunks"] < old_chunks  # the longer chunks: fewer of them
    with Components(Settings(qdrant={"path": env["RAGQA_QDRANT__PATH"]})) as parts:
        assert parts.index.list_physical() == ["docs__v1"]
        new_ids = {c.chunk_id for d in parts.index.list_documents("docs").documents
                   for c in parts.index.document_chunks("docs", d.doc_id)}

    failed = [(status, body) for _, status, body in answers if status != 200 or "error" in body]
    assert not failed, failed[:3]
    # Asked before the command started: the old collection answered. (One asked a moment before the
    # switch may resolve the name after it: only the time the switch was noted, after it, is exact.)
    before = [body for asked, _, body in answers if asked < launched]
    after = [body for asked, _, body in answers if asked > report["switched_at"]]
    last = [body for asked, _, body in answers if asked > returned]
    assert len(before) >= 3 and len(after) >= 3 and last, (len(before), len(after), len(last))
    cited_before = {c["chunk_id"] for body in before for c in body["citations"]}
    cited_after = {c["chunk_id"] for body in after for c in body["citations"]}
    assert cited_before and not cited_before & new_ids  # the old collection answered until the switch
    assert cited_after and cited_after <= new_ids, cited_after - new_ids
    assert all(body["citations"] for body in last)
