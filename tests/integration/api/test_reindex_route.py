"""`POST /collections/{name}/reindex` and its status route over a real embedded store and the shared
Redis (keys under this test's prefix): only an admin may start or follow one, requests that cannot work
are refused before anything runs, a task runs to the switch, and a server that stops abandons one
mid-way with the old collection still answering."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.reindex import ReindexOptions, ReindexService
from api.security import hash_key
from bootstrap.components import Components
from core.settings import Settings
from ingest.sources import iter_sources
from state.api_keys import KeyAdmin
from tests.support.api import make_settings
from tests.support.services import free_port

ADMIN_KEY = "admin-key-for-reindex"
ARTICLES = ("set1/a1.txt", "set1/a7.txt")


@pytest.fixture
def parts(tmp_path: Path, redis_url: str, key_prefix: str, embedder: Any, corpus_dir: Path) -> Iterator[Components]:
    settings = make_settings(tmp_path, redis_url, f"{key_prefix}reindex-route:", f"http://127.0.0.1:{free_port()}/v1",
                             answer={"mode": "extractive"}, chunking={"chunk_size": 64, "chunk_overlap": 8},
                             api={"api_keys_sha256": [hash_key(ADMIN_KEY)]})
    components = Components(settings)
    components.__dict__["embedder"] = embedder
    sources = [s for s in iter_sources([corpus_dir]) if s.doc_id in ARTICLES]
    assert components.pipeline.ingest(sources, "docs").counts()["added"] == len(ARTICLES)
    yield components
    components.close()


def follow(client: TestClient, status_url: str, headers: dict[str, str], timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (task := client.get(status_url, headers=headers).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, task
        time.sleep(0.1)
    return task  # type: ignore[no-any-return]


def test_only_an_admin_reindexes_and_a_task_runs_to_the_switch(parts: Components) -> None:
    settings: Settings = parts.settings
    editor = KeyAdmin(redis.Redis.from_url(settings.redis.url), settings.redis.key_prefix).create(
        "editor", ["ask", "ingest"])[0]
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with TestClient(create_app(settings, parts)) as client:
        refused = client.post("/collections/docs/reindex", json={}, headers={"Authorization": f"Bearer {editor}"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert client.post("/collections/docs/reindex", json={}).status_code == 401

        for body, status, code in (({"chunk_size": 32, "chunk_overlap": 32}, 400, "invalid_request"),
                                   ({"embedding_backend": "sentence-transformers"}, 400, "invalid_request"),
                                   ({"chunk_size": 8}, 422, "validation_error")):
            answer = client.post("/collections/docs/reindex", json=body, headers=admin)
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
        assert client.post("/collections/nope/reindex", json={}, headers=admin).status_code == 404
        assert client.get("/collections/docs/reindex/abc123", headers=admin).status_code == 404

        started = client.post("/collections/docs/reindex", json={"chunk_size": 160, "chunk_overlap": 16,
                                                                 "grace_s": 1, "embedding_backend": "onnx-int8"},
                              headers=admin)
        assert started.status_code == 202, started.text
        task = started.json()
        assert task["state"] in ("queued", "running") and (task["chunk_size"], task["chunk_overlap"]) == (160, 16)
        again = client.post("/collections/docs/reindex", json={}, headers=admin)  # one at a time per collection
        assert again.status_code == 400 and task["task_id"] in again.json()["error"]["message"]
        assert client.get(task["status_url"], headers={"Authorization": f"Bearer {editor}"}).status_code == 403

        done = follow(client, task["status_url"], admin)
        assert done["state"] == "done" and done["error"] is None, done
        assert (done["report"]["old"], done["report"]["new"]) == ("docs", "docs__v1")
        assert done["documents_total"] == 2 and done["documents_done"] == 2 and done["documents_failed"] == 0
        assert done["started_at"] <= done["switched_at"] <= done["finished_at"]
        assert done["chunks_written"] == done["report"]["chunks"] == parts.index.count("docs")
        assert parts.index.list_physical() == ["docs__v1"]
        answer = client.post("/ask", json={"question": "What is a collective noun for kangaroos?"}, headers=admin)
        assert answer.status_code == 200 and answer.json()["citations"]


def test_a_server_that_stops_abandons_its_reindex_and_the_old_collection_stays(parts: Components) -> None:
    service = ReindexService(parts.index, parts.embedder, parts.sparse, parts.settings)
    before = parts.index.count("docs")
    task = service.start("docs", ReindexOptions({"chunk_size": 160, "chunk_overlap": 16}))
    service.close()  # at once: the re-index is queued, or on its first document
    ended = service.get("docs", task["task_id"])
    assert ended["state"] == "failed" and ended["switched_at"] is None, ended
    assert ended["error"]["code"] in ("cancelled", "ingest_error"), ended
    assert parts.index.list_physical() == ["docs"] and parts.index.count("docs") == before
