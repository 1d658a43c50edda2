"""`ragqa backup --with-redis` and `ragqa restore` round trips of a collection's Redis state: its feedback
rows, its experiments and its audit entries come back exactly once however often the restore runs, and
nothing of another collection is read or touched. Real parts: an embedded store in a temporary folder,
the shared Redis under this test's own key prefixes, the feedback written by the API's own store, and
the `ragqa` command through typer's runner (in this process: no interpreter start per command)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio
import structlog
from typer.testing import CliRunner

from api.metrics import Metrics
from bootstrap.components import Components
from cli.main import app as cli
from core.audit_settings import AuditSettings
from core.experiments import Experiment, parse_arm
from core.settings import Settings
from ingest.sources import SourceDocument
from state.answer_cache import AnswerCache
from state.audit import SyncAuditLog, iter_audit
from state.experiments import ExperimentBook, ExperimentStore
from state.feedback import FeedbackStore, iter_feedback
from state.guard import CircuitBreaker, GuardedRedis
from state.keys import Keyspace
from tests.support.environment import require
from tests.support.services import SHARED_REDIS, delete_prefix, redis_reachable

pytestmark = pytest.mark.slow  # eight `ragqa` commands in this process and an ingest: ~10 s on 2 busy cores

NOTE = "The corner shop on Elm Street sells blue notebooks and green pens.\n"


class Versions:
    def version(self, collection: str) -> str:
        return "v1"

    def cached_version(self, collection: str) -> str | None:
        return "v1"


@pytest.fixture
def prefixes() -> Iterator[tuple[str, str, str]]:
    """The backed-up Redis state's prefix, a fresh one to restore into (a Redis lost and started again),
    and one where others wrote before the restore."""
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    three = (f"ragqa-test-{uuid.uuid4().hex[:12]}:", f"ragqa-test-{uuid.uuid4().hex[:12]}:",
             f"ragqa-test-{uuid.uuid4().hex[:12]}:")
    yield three
    for prefix in three:
        delete_prefix(SHARED_REDIS, prefix)


def ragqa(store: Path, prefix: str, *args: str, code: int = 0) -> Any:
    env = {"RAGQA_REDIS__URL": SHARED_REDIS, "RAGQA_REDIS__KEY_PREFIX": prefix, "RAGQA_QDRANT__PATH": str(store),
           "RAGQA_LOG_LEVEL": "WARNING", "COLUMNS": "200"}  # fmt: skip
    saved = structlog.get_config()  # the command logs onto the runner's stream, closed after it: keep ours
    try:
        result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    finally:
        structlog.configure(**saved)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def seed(prefix: str) -> None:
    """Votes on answers of `docs` (two in an experiment's arm) and of `other`, experiments on each and
    on every collection, and audit entries naming each: what a live API leaves behind."""
    client = redis.Redis.from_url(SHARED_REDIS)
    store = ExperimentStore(client, prefix)
    store.create(Experiment("everywhere", (parse_arm("a:top_k=3:50"), parse_arm("b::50")), None))
    store.stop("everywhere")
    store.create(Experiment("docs-prompts", (parse_arm("a:prompt_version=rag-v1:50"),
                                             parse_arm("b:prompt_version=rag-v2:50")), "docs"))  # fmt: skip
    store.create(Experiment("other-modes", (parse_arm("a:mode=extractive:50"), parse_arm("b::50")), "other"))

    async def vote() -> None:
        aclient = redis.asyncio.Redis.from_url(SHARED_REDIS)
        guarded = GuardedRedis(aclient, CircuitBreaker(), Metrics())
        cache = AnswerCache(guarded, Versions(), Metrics(), prefix=prefix, ttl_s=60, answer_ttl_s=60)
        feedback = FeedbackStore(guarded, cache, prefix, ExperimentBook(guarded, prefix))
        for n, (collection, rating, arm) in enumerate([("docs", "up", "a"), ("other", "down", None),
                                                       ("docs", "down", "b"), ("docs", "up", None)]):
            experiment = {"name": "docs-prompts", "arm": arm} if arm else None
            answer = {"answer_id": f"a{n}", "question": "Who sells notebooks?", "text": "The corner shop [1].",
                      "collection": collection, "experiment": experiment,
                      "citations": [{"number": 1, "doc_id": "shop.txt", "snippet": NOTE}]}  # fmt: skip
            await cache.save(f"fp{n}", collection, "v1", answer, ["shop.txt"])
            await feedback.record(f"a{n}", rating, f"comment {n}")
        await aclient.aclose()

    anyio.run(vote)
    trail = SyncAuditLog(client, AuditSettings(), prefix)
    trail.record("user:ana", "upload", "POST /documents", collection="docs", doc_ids=["shop.txt"], status=202)
    trail.record("user:bo", "ask", "POST /ask", collection="other", status=200)
    trail.record("key:ops-bot", "delete", "DELETE /documents/{doc_id}", collection="docs", doc_ids=["x"], status=200)


def state(prefix: str, collection: str = "docs") -> dict[str, Any]:
    """What Redis holds of ``collection``: feedback rows and audit entries (id and all), experiments
    with their counters."""
    client = redis.Redis.from_url(SHARED_REDIS)
    store = ExperimentStore(client, prefix)
    experiments = [e for e in store.list() if e.collection == collection]
    return {
        "feedback": [r for r in iter_feedback(client, prefix) if r["answer"]["collection"] == collection],
        "experiments": {e.name: (e.to_dict(), store.counters(e)) for e in experiments},
        "audit": [e for e in iter_audit(client, prefix) if e["collection"] == collection
                  and not e["action"].startswith("collection_")],  # the backups' and restores' own entries aside
    }  # fmt: skip


def test_redis_state_round_trips_once_and_stays_out_without_the_flag(
        tmp_path: Path, embedder: Any, prefixes: tuple[str, str, str]) -> None:
    source, fresh, busy = prefixes
    store = tmp_path / "store"
    parts = Components(Settings(qdrant={"path": str(store)}))
    parts.__dict__["embedder"] = embedder
    with parts:
        added = parts.pipeline.ingest([SourceDocument("shop.txt", "shop.txt", "upload:shop.txt", data=NOTE.encode())],
                                      "docs")
        assert added.counts()["added"] == 1
    seed(source)
    before, other_before = state(source), state(source, "other")
    assert (len(before["feedback"]), len(before["audit"]), list(before["experiments"])) == (3, 2, ["docs-prompts"])
    assert before["experiments"]["docs-prompts"][1]["a"]["up"] == 1  # the votes counted for their arms

    plain = ragqa(store, source, "backup", "docs", "--out", str(tmp_path / "plain"))
    assert "redis" not in plain["manifest"] or plain["manifest"]["redis"] is None
    assert "redis" not in json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert not (tmp_path / "plain" / "redis").exists()  # nothing of Redis is written without the flag

    kept = ragqa(store, source, "backup", "docs", "--out", str(tmp_path / "full"), "--with-redis")
    # The audit entries: the two written by the API, and the first backup's own.
    assert kept["manifest"]["redis"] == {"feedback": 3, "experiments": 1, "audit": 3}
    assert sorted(p.name for p in (tmp_path / "full" / "redis").iterdir()) == [
        "audit.jsonl", "experiments.jsonl", "feedback.jsonl"]

    # A lost store and a lost Redis: the collection and its state come back, with their ids; a second
    # restore (over the collection it brought back) adds nothing.
    shutil.rmtree(store)
    first = ragqa(store, fresh, "restore", str(tmp_path / "full"))
    assert first["redis"] == {"feedback": {"added": 3, "present": 0, "new_ids": 0},
                              "experiments": {"added": 1, "present": 0, "stopped": 0},
                              "audit": {"added": 3, "present": 0, "not_placed": 0}}  # fmt: skip
    assert state(fresh) == before
    assert state(fresh, "other") == {"feedback": [], "experiments": {}, "audit": []}
    again = ragqa(store, fresh, "restore", str(tmp_path / "full"), "--replace")
    assert again["redis"] == {"feedback": {"added": 0, "present": 3, "new_ids": 0},
                              "experiments": {"added": 0, "present": 1, "stopped": 0},
                              "audit": {"added": 0, "present": 3, "not_placed": 0}}  # fmt: skip
    assert state(fresh) == before

    # The collection's votes deleted from a stream that went on growing: they come back at its end (new
    # ids, the same rows), once; the other collection's rows stay as they were.
    client = redis.Redis.from_url(SHARED_REDIS)
    client.xdel(Keyspace(source).feedback, *[r["feedback_id"] for r in before["feedback"]])
    assert state(source)["feedback"] == []
    for _ in range(2):
        ragqa(store, source, "restore", str(tmp_path / "full"), "--replace")
    back = state(source)
    assert [{**r, "feedback_id": None} for r in back["feedback"]] == [
        {**r, "feedback_id": None} for r in before["feedback"]]
    assert (back["experiments"], back["audit"]) == (before["experiments"], before["audit"])
    assert state(source, "other") == other_before

    # A Redis written to before the restore: a running experiment on docs keeps it, so the restored one
    # comes back stopped; the trail holds a newer entry, so the old ones cannot be placed (an id is a time).
    ExperimentStore(client, busy).create(Experiment("docs-newer", (parse_arm("a::50"), parse_arm("b::50")), "docs"))
    SyncAuditLog(client, AuditSettings(), busy).record("user:ana", "ask", "POST /ask", collection="docs", status=200)
    late = ragqa(store, busy, "restore", str(tmp_path / "full"), "--replace")
    assert late["redis"] == {"feedback": {"added": 3, "present": 0, "new_ids": 0},
                             "experiments": {"added": 1, "present": 0, "stopped": 1},
                             "audit": {"added": 0, "present": 0, "not_placed": 3}}  # fmt: skip
    restored = ExperimentStore(client, busy).get("docs-prompts")
    assert not restored.running and restored.arms == Experiment.from_dict(
        before["experiments"]["docs-prompts"][0]).arms
    assert ExperimentStore(client, busy).get("docs-newer").running

    # --without-redis leaves Redis alone; under another name the rows would not be its own: refused.
    ragqa(store, fresh, "restore", str(tmp_path / "full"), "--replace", "--without-redis")
    assert state(fresh) == before
    refused = ragqa(store, fresh, "restore", str(tmp_path / "full"), "--as", "docs-old", code=2)
    assert "--without-redis" in refused["error"]["message"]
