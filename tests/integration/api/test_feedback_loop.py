"""Feedback that acts: a down-vote evicts the cached answer at once, and what people rated comes back
as an eval set (`ragqa feedback export --format eval` -> `ragqa eval answers --dataset`), as chat
rows whose `[n]` point at their sources, and as a golden set that `ragqa golden check` replays.

Real components throughout: the API app over an embedded Qdrant store in a temporary folder, the
shared Redis (a key prefix of this module's own), and the `ragqa` command in its own processes once
the app has let go of the store. Answers are extractive (no LLM), so the same question gets the
same answer and the figures below are exact.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from core.settings import Settings
from ingest.sources import iter_sources
from state.keys import Keyspace
from tests.support.api import make_settings
from tests.support.environment import REPO
from tests.support.services import free_port

COLLECTION = "harbour"
VAULT = ("The harbour museum keeps its silver in an old steel vault beneath the east wing.\n\n"
         "The code of the harbour museum vault is ALPHA-SEVEN.\n\n"
         "Only the curator and her deputy know the code of the vault.\n")  # fmt: skip
FERRY = ("The island ferry leaves the harbour every morning at seven.\n\n"
         "In winter the ferry does not sail on Sundays.\n\n"
         "Tickets for the ferry are sold at the kiosk beside the lighthouse.\n")  # fmt: skip
CODE, SILVER, FERRY_Q = ("What is the code of the harbour museum vault?", "Where does the museum keep its silver?",
                         "When does the island ferry leave the harbour?")  # fmt: skip
OFF_TOPIC = "What is the melting point of tungsten in a vacuum furnace?"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("harbour-docs")
    (folder / "vault.txt").write_text(VAULT)
    (folder / "ferry.txt").write_text(FERRY)
    return folder


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, key_prefix: str, request: pytest.FixtureRequest) -> Settings:
    """Each test its own store and keys: the exports below are exactly its own feedback."""
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # never asked: answers are extractive
    return make_settings(tmp_path, redis_url, f"{key_prefix}loop-{request.node.name[5:20]}:", dead_llm,
                         answer={"mode": "extractive"}, retrieval={"top_k": 4})


def open_app(settings: Settings, corpus: Path, embedder: Any) -> tuple[Components, TestClient]:
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    report = parts.pipeline.ingest(list(iter_sources([corpus])), COLLECTION)
    assert report.counts()["added"] == 2, report.to_dict()
    return parts, TestClient(create_app(settings, parts))


@pytest.fixture
def client(settings: Settings, corpus: Path, embedder: Any) -> Iterator[TestClient]:
    parts, test_client = open_app(settings, corpus, embedder)
    with test_client:
        yield test_client
    parts.close()


def ask(client: TestClient, question: str) -> dict[str, Any]:
    response = client.post("/ask", json={"question": question, "collection": COLLECTION})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def rate(client: TestClient, answer: dict[str, Any], rating: str, **extra: str) -> dict[str, Any]:
    response = client.post("/feedback", json={"answer_id": answer["answer_id"], "rating": rating, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def evictions(client: TestClient, reason: str) -> float:
    found = re.search(rf'^ragqa_cache_evictions_total{{reason="{reason}"}} (\S+)$', client.get("/metrics").text, re.M)
    assert found, "the evictions counter is exported per reason"
    return float(found.group(1))


def test_a_down_vote_evicts_the_cached_answer_at_once(client: TestClient, settings: Settings) -> None:
    first = ask(client, FERRY_Q)
    again = ask(client, FERRY_Q)
    assert first["cached"] is False and again["cached"] is True and again["answer_id"] == first["answer_id"]
    assert "seven" in first["text"], first["text"]
    before = evictions(client, "down_vote")

    assert rate(client, again, "up")["cache_evicted"] is False  # an up-vote leaves it be
    assert ask(client, FERRY_Q)["cached"] is True
    assert rate(client, again, "down", comment="stale timetable")["cache_evicted"] is True
    fresh = ask(client, FERRY_Q)
    assert fresh["cached"] is False and fresh["answer_id"] != first["answer_id"]
    assert evictions(client, "down_vote") == before + 1

    # The feedback row names the cache entry it evicted (where the fresh answer now is).
    r, keys = redis.Redis.from_url(str(settings.redis.url), decode_responses=True), Keyspace(settings.redis.key_prefix)
    rows = [f for _, f in r.xrange(keys.feedback) if f["answer_id"] == first["answer_id"]]
    assert [(f["rating"], f["evicted"]) for f in rows] == [("up", "0"), ("down", "1")]
    assert fresh["answer_id"] in str(r.get(keys.cached_answer(rows[1]["cache_key"])))
    assert "cache" not in json.loads(rows[1]["answer"])  # the row keeps the answer as it was served

    # A late down-vote of the old answer never evicts the newer answer to the same question.
    assert rate(client, first, "down")["cache_evicted"] is False
    assert ask(client, FERRY_Q)["answer_id"] == fresh["answer_id"]


def ragqa(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RAGQA_QDRANT__PATH": str(settings.qdrant.path),
           "RAGQA_REDIS__URL": str(settings.redis.url), "RAGQA_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "RAGQA_ANSWER__MODE": "extractive", "RAGQA_RETRIEVAL__TOP_K": "4", "RAGQA_LOG_LEVEL": "WARNING",
           "RAGQA_LLM__BASE_URL": str(settings.llm.base_url)}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=REPO, check=False)  # fmt: skip


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_rated_answers_come_back_as_an_eval_set_chat_rows_and_a_golden_set(
        settings: Settings, corpus: Path, embedder: Any, tmp_path: Path) -> None:
    parts, app = open_app(settings, corpus, embedder)
    with app as client:
        code, silver, refusal, ferry = (ask(client, q) for q in (CODE, SILVER, OFF_TOPIC, FERRY_Q))
        assert "ALPHA-SEVEN" in code["text"] and "steel vault" in silver["text"], (code["text"], silver["text"])
        assert refusal["refused"] is True
        rate(client, code, "up")
        rate(client, refusal, "up", comment="right not to guess")
        rate(client, silver, "down", correction="In an old steel vault beneath the east wing.")
        rate(client, ferry, "up")
        rate(client, ferry, "down", comment="wrong in winter")  # the latest rating withdraws the confirmation
    parts.close()  # the CLI's turn with the embedded store

    rows_path, chat_path = tmp_path / "eval.jsonl", tmp_path / "chat.jsonl"
    for fmt, path in (("eval", rows_path), ("chat", chat_path)):
        run = ragqa(settings, "feedback", "export", "--format", fmt, "--out", str(path))
        assert run.returncode == 0, run.stderr
    exported = jsonl(rows_path)
    rows = {(r["answer_id"], r["rating"]): r for r in exported}
    assert len(exported) == 5 and {r["collection"] for r in exported} == {COLLECTION}
    assert rows[code["answer_id"], "up"]["answers"] == [code["text"]]
    assert rows[code["answer_id"], "up"]["doc_id"] == "vault.txt"
    assert rows[refusal["answer_id"], "up"]["expect_refusal"] is True
    corrected = rows[silver["answer_id"], "down"]
    assert corrected["answers"] == ["In an old steel vault beneath the east wing."]
    assert corrected["known_wrong"] == [silver["text"]] and corrected["recheck"] is True
    assert rows[ferry["answer_id"], "down"]["answers"] == []
    assert rows[ferry["answer_id"], "down"]["known_wrong"] == [ferry["text"]]
    sources = rows[code["answer_id"], "up"]["sources"]
    assert sources and all(s["doc_id"] and s["chunk_id"] and s["quote"]["text"] for s in sources)
    assert any("ALPHA-SEVEN" in s["quote"]["text"] for s in sources)
    for chat in jsonl(chat_path):  # every [n] of an answer points at a source the row carries
        numbers = {s["number"] for s in chat["sources"]}
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", chat["messages"][1]["content"])}
        assert cited <= numbers and all(f"[{n}]" in chat["messages"][0]["content"] for n in cited), chat

    run = ragqa(settings, "eval", "answers", "--dataset", str(rows_path), "--json", "--out", str(tmp_path / "out"))
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout + run.stderr
    summary = json.loads(run.stdout)["runs"]["extractive"]["summary"]
    assert summary["questions"] == 5 and summary["errors"] == 0
    assert summary["correct_refusals"] == 1.0 and summary["cited_expected_doc"] == 1.0
    assert summary["contains_gold"] is not None and summary["contains_gold"] >= 0.5  # the up-voted texts, again
    assert summary["rechecked"] == 2 and summary["repeats_known_wrong"] == 1.0  # nothing changed: same answers

    golden = tmp_path / "golden.jsonl"
    run = ragqa(settings, "golden", "update", str(golden), "--collection", COLLECTION, "--corpus", str(corpus),
                "--json")
    assert run.returncode == 0, run.stderr
    cases = {c["question"]: c for c in jsonl(golden)}
    assert set(cases) == {CODE, OFF_TOPIC}  # the ferry answer's latest rating is a down-vote; silver's too
    assert cases[CODE]["evidence"][0] == {"doc_id": "vault.txt", "text": "The code of the harbour museum vault is "
                                          "ALPHA-SEVEN."} and cases[OFF_TOPIC]["expect"] == "refusal"
    held = ragqa(settings, "golden", "check", str(golden), "--json")
    assert held.returncode == 0 and json.loads(held.stdout)["broken"] == 0, held.stdout + held.stderr

    (corpus / "vault.txt").write_text(VAULT.replace("The code of the harbour museum vault is ALPHA-SEVEN.\n\n", ""))
    try:
        broke = ragqa(settings, "golden", "check", str(golden), "--json")
    finally:
        (corpus / "vault.txt").write_text(VAULT)
    assert broke.returncode == 1, broke.stdout + broke.stderr
    problems = {r["question"]: r["problems"] for r in json.loads(broke.stdout)["results"]}
    assert problems[OFF_TOPIC] == [] and "no longer shown" in problems[CODE][0], problems
