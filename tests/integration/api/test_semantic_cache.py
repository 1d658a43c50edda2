"""The semantic cache turned on, end to end: a paraphrase is served the cached answer, a different
question about the same thing is not, a re-ingest of a changed document invalidates it, and a
down-vote reaches it too.

The real API app over an embedded Qdrant store in a temporary folder, the shared Redis (a key prefix
of this module's own), the real embedder, the shipped threshold (`redis.semantic_threshold`, 0.97)
and the in-process upload runner. Answers are extractive, so their text shows which version of the
document they came from.

The questions' cosines to the first one, under the packaged int8 MiniLM: the paraphrase 0.991, the
other question 0.823. (Some different questions come closer: "Who knows the code of the harbour
museum vault?" is 0.979, above the threshold; why the cache is off by default.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from core.settings import Settings
from ingest.sources import SourceDocument
from state.keys import Keyspace
from tests.support.api import make_settings, wait_for_job
from tests.support.services import free_port

COLLECTION = "museum"
VAULT = ("The harbour museum keeps its silver in an old steel vault beneath the east wing.\n\n"
         "The code of the harbour museum vault is {code}.\n\n"
         "Only the curator and her deputy know the code of the vault.\n")  # fmt: skip
FERRY = "The island ferry leaves the harbour every morning at seven. Tickets are sold at the kiosk.\n"
QUESTION = "What is the code of the harbour museum vault?"
PARAPHRASE = "What is the code for the harbour museum vault?"
OTHER = "What does the harbour museum keep in its vault?"  # same vault, another question


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str) -> Settings:
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # never asked: answers are extractive
    return make_settings(tmp_path_factory.mktemp("semantic"), redis_url, key_prefix + "semantic:", dead_llm,
                         answer={"mode": "extractive"}, redis={"semantic_cache": True})


@pytest.fixture(scope="module")
def client(settings: Settings, embedder: Any) -> Iterator[TestClient]:
    assert settings.redis.semantic_threshold == 0.97  # the shipped default: what this module measures
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    sources = [SourceDocument(name, name, name, data=text.encode())
               for name, text in (("vault.txt", VAULT.format(code="ALPHA-SEVEN")), ("ferry.txt", FERRY))]
    assert parts.pipeline.ingest(sources, COLLECTION).counts()["added"] == 2
    with TestClient(create_app(settings, parts)) as test_client:
        yield test_client
    parts.close()


def ask(client: TestClient, question: str) -> dict[str, Any]:
    response = client.post("/ask", json={"question": question, "collection": COLLECTION})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def semantic_hits(client: TestClient) -> float:
    found = re.search(r'^ragqa_cache_requests_total{kind="semantic",result="hit"} (\S+)$',
                      client.get("/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


def test_a_paraphrase_hits_another_question_does_not_and_a_reingest_invalidates(client: TestClient) -> None:
    hits = semantic_hits(client)
    first = ask(client, QUESTION)
    assert first["cached"] is False and "ALPHA-SEVEN" in first["text"], first["text"]

    paraphrase = ask(client, PARAPHRASE)
    assert paraphrase["cached"] is True and paraphrase["answer_id"] == first["answer_id"]
    assert paraphrase["semantic_similarity"] >= 0.97 and paraphrase["text"] == first["text"]
    assert semantic_hits(client) == hits + 1

    other = ask(client, OTHER)
    assert other["cached"] is False and other["answer_id"] != first["answer_id"], other
    assert "silver" in other["text"] and semantic_hits(client) == hits + 1

    # Re-ingest the vault with a new code, through the API: the index version moves, and with it the scope.
    files = [("files", ("vault.txt", VAULT.format(code="OMEGA-NINE").encode()))]
    accepted = client.post("/documents", files=files, data={"collection": COLLECTION, "doc_ids": ["vault.txt"]})
    assert accepted.status_code == 202, accepted.text
    assert wait_for_job(client, accepted.json()["job_id"])["state"] == "done"
    after = ask(client, PARAPHRASE)
    assert after["cached"] is False and "OMEGA-NINE" in after["text"] and "ALPHA-SEVEN" not in after["text"], after
    assert semantic_hits(client) == hits + 1
    again = ask(client, QUESTION)  # and now the new answer is what a paraphrase shares
    assert again["cached"] is True and again["answer_id"] == after["answer_id"] and again["semantic_similarity"]


def test_a_down_vote_takes_the_answer_out_of_the_semantic_cache_too(client: TestClient, settings: Settings) -> None:
    question = "When does the island ferry leave the harbour?"
    first = ask(client, question)
    served = ask(client, "When does the island ferry leave from the harbour?")
    assert served["cached"] is True and served["answer_id"] == first["answer_id"], served

    rated = client.post("/feedback", json={"answer_id": served["answer_id"], "rating": "down"})
    assert rated.status_code == 201 and rated.json()["cache_evicted"] is True
    after = ask(client, "When does the island ferry leave from the harbour?")
    assert after["cached"] is False and after["answer_id"] != first["answer_id"]
    # The evicted question is gone from the scope's vectors too (no match left pointing at nothing).
    r, keys = redis.Redis.from_url(str(settings.redis.url), decode_responses=True), Keyspace(settings.redis.key_prefix)
    (row,) = [f for _, f in r.xrange(keys.feedback) if f["answer_id"] == first["answer_id"]]
    vectors = [set(r.hkeys(key)) for key in r.scan_iter(match=keys.semantic("*", "*"), count=1000)]
    assert row["cache_key"] and vectors and not any(row["cache_key"] in fields for fields in vectors)


def test_the_setting_is_what_turns_it_on(tmp_path: Path, redis_url: str, key_prefix: str, embedder: Any) -> None:
    """The same paraphrase with the cache as shipped (off): answered afresh."""
    settings = make_settings(tmp_path, redis_url, key_prefix + "semantic-off:", f"http://127.0.0.1:{free_port()}/v1",
                             answer={"mode": "extractive"})
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    parts.pipeline.ingest([SourceDocument("vault.txt", "vault.txt", "vault.txt",
                                          data=VAULT.format(code="ALPHA-SEVEN").encode())], COLLECTION)
    with TestClient(create_app(settings, parts)) as off:
        assert ask(off, QUESTION)["cached"] is False
        assert ask(off, PARAPHRASE)["cached"] is False and ask(off, QUESTION)["cached"] is True
    parts.close()
