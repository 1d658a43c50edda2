"""Uploads as jobs, job states, deletes, collections, and cache invalidation on every change."""

from __future__ import annotations

from pathlib import Path

import redis
from fastapi.testclient import TestClient

from state.keys import Keyspace
from tests.support.api import wait_for_job

ARTICLES = Path("set1")
# Refused questions are answered (and cached) without the LLM: quick to repeat.
PROBE = "What is the boiling point of liquid nitrogen in a vacuum chamber, {}?"


def article(corpus_dir: Path, name: str) -> bytes:
    return (corpus_dir / ARTICLES / name).read_bytes()


def test_upload_runs_a_job_and_invalidates_cached_answers(client: TestClient, corpus_dir: Path) -> None:
    question = {"question": PROBE.format("before an upload"), "collection": "uploads"}
    seed = client.post("/documents", files=[("files", ("seed.txt", b"Seed text about nothing in particular.\n"))],
                       data={"collection": "uploads"}).json()  # fmt: skip
    assert wait_for_job(client, seed["job_id"])["state"] == "done"
    assert client.post("/ask", json=question).json()["cached"] is False
    assert client.post("/ask", json=question).json()["cached"] is True

    files = [("files", ("../../turtle.txt", article(corpus_dir, "a9.txt"), "text/plain")),
             ("files", ("turtle.txt", article(corpus_dir, "a9.txt"), "text/plain")),
             ("files", ("bad.xyz", b"\x00\x01 not a document", "application/octet-stream"))]  # fmt: skip
    accepted = client.post("/documents", files=files, data={"collection": "uploads", "tags": ["team=zoo"]})
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["documents"] == ["turtle.txt", "turtle-2.txt"]  # sanitized, made unique
    # A type nothing parses is refused at once, named, and the rest still go in.
    assert [(r["name"], r["error"]["code"]) for r in body["rejected"]] == [("bad.xyz", "unsupported_format")]
    assert body["status_url"] == f"/jobs/{body['job_id']}"

    job = wait_for_job(client, body["job_id"])
    assert job["state"] == "done"
    docs = {d["doc_id"]: d for d in job["documents"]}
    assert docs["turtle.txt"]["state"] == "done" and docs["turtle.txt"]["status"] == "added"
    assert docs["turtle.txt"]["chunks"] > 0
    assert "bad.xyz" not in docs
    assert job["counts"]["done"] == 2 and job["counts"]["failed"] == 0 and job["total"] == 2

    # The job's writes moved the collection's index version: the old answer is never served again.
    assert client.post("/ask", json=question).json()["cached"] is False

    collections = {c["name"]: c for c in client.get("/collections").json()["collections"]}
    assert collections["uploads"]["documents"] == 3  # seed + two turtles
    assert "uploads" in {m["id"] for m in client.get("/v1/models").json()["data"]}


def test_delete_moves_the_version_and_evicts_answers_that_cited_the_document(
        client: TestClient, corpus_dir: Path, redis_client: redis.Redis, key_prefix: str) -> None:
    accepted = client.post("/documents", files=[("files", ("penguin.txt", article(corpus_dir, "a3.txt")))],
                           data={"collection": "zoo"}).json()  # fmt: skip
    assert wait_for_job(client, accepted["job_id"])["state"] == "done"
    question = {"question": PROBE.format("before a delete"), "collection": "zoo"}
    assert client.post("/ask", json=question).json()["cached"] is False
    assert client.post("/ask", json=question).json()["cached"] is True
    # An answer that cites the document, cached through the app's own cache (no LLM call needed).
    services = client.app.state.services  # type: ignore[attr-defined]
    version = services.components.index.version("zoo")
    payload = {"answer_id": "f" * 32, "text": "In Antarctica [1].", "cached": False, "timings_ms": {}}
    client.portal.call(services.cache.save, "cited-fp", "zoo", version, payload, ["penguin.txt"])  # type: ignore[union-attr]
    keys = Keyspace(key_prefix)
    assert redis_client.exists(keys.cached_answer("cited-fp"))

    deleted = client.delete("/documents/penguin.txt", params={"collection": "zoo"})
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["chunks_deleted"] > 0 and body["answers_evicted"] == 1
    assert not redis_client.exists(keys.cached_answer("cited-fp"))
    assert not redis_client.exists(keys.citations("zoo", "penguin.txt"))
    # The delete moved the index's version: the refusal cached before it is not served either.
    assert client.post("/ask", json=question).json()["cached"] is False

    missing = client.delete("/documents/penguin.txt", params={"collection": "zoo"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_document_ids_with_slashes_can_be_deleted(client: TestClient) -> None:
    response = client.delete("/documents/set1/nope.txt")
    assert response.status_code == 404
    assert "set1/nope.txt" in response.json()["error"]["message"]


def test_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/jobs/0123456789abcdef")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.get("/jobs/not-hex").status_code == 422


def test_an_upload_of_only_unsupported_files_is_415(client: TestClient) -> None:
    response = client.post("/documents", files=[("files", ("design.psd", b"8BPS", "image/vnd.adobe.photoshop")),
                                                ("files", ("data.bin", b"\x00", "application/octet-stream"))])
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_format" and "design.psd" in error["message"] and "data.bin" in error["message"]


def test_upload_needs_files(client: TestClient) -> None:
    response = client.post("/documents", data={"collection": "docs"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"


def test_cancel_a_job(client: TestClient, corpus_dir: Path) -> None:
    files = [("files", (f"copy{i}.txt", article(corpus_dir, "a7.txt"))) for i in range(4)]
    accepted = client.post("/documents", files=files, data={"collection": "cancelled"}).json()
    cancel = client.delete(f"/jobs/{accepted['job_id']}")
    assert cancel.status_code == 200
    job = wait_for_job(client, accepted["job_id"])
    if cancel.json()["state"] in ("queued", "running"):
        assert job["state"] == "cancelled"
        assert job["counts"]["cancelled"] >= 1
        assert job["counts"]["done"] + job["counts"]["cancelled"] == 4


def test_a_re_upload_merges_tags_and_keeps_them_without_a_tags_field(
        client: TestClient, corpus_dir: Path) -> None:
    def upload(data: dict[str, object]) -> dict[str, object]:
        accepted = client.post("/documents", files=[("files", ("koala.txt", article(corpus_dir, "a10.txt")))],
                               data={"collection": "tagged", **data})  # fmt: skip
        assert accepted.status_code == 202, accepted.text
        assert wait_for_job(client, accepted.json()["job_id"])["state"] == "done"
        return client.get("/documents/koala.txt", params={"collection": "tagged"}).json()["tags"]  # type: ignore[no-any-return]

    assert upload({"tags": ["team=zoo"]}) == {"team": "zoo"}
    assert upload({}) == {"team": "zoo"}  # no tags field: the document keeps its tags
    assert upload({"tags": ["year=2024"]}) == {"team": "zoo", "year": "2024"}
    assert upload({"tags": ["team=marsupials", "year="]}) == {"team": "marsupials"}  # `year=` removes it
