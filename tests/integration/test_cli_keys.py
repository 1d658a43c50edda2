"""`ragqa keys` and the access options of `ragqa ingest`, through the real command line over the shared
Redis: a key is printed once and stored as a digest, listed, revoked; `--acl` sets a document's readers
(and a re-ingest without it keeps them); each of these lands in the audit trail."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from core.settings import Settings
from state.api_keys import key_digest
from state.audit import iter_audit
from state.keys import Keyspace
from tests.support.environment import require
from tests.support.processes import cli_env
from tests.support.processes import ragqa as run_cli
from tests.support.services import SHARED_REDIS, delete_prefix, redis_reachable


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    prefix = f"ragqa-test-{uuid.uuid4().hex[:12]}:"
    yield {**cli_env(tmp_path), "RAGQA_REDIS__URL": SHARED_REDIS, "RAGQA_REDIS__KEY_PREFIX": prefix}
    delete_prefix(SHARED_REDIS, prefix)


def ragqa(env: dict[str, str], *args: str) -> dict | list:  # type: ignore[type-arg]
    """The real command, in its own process (its logging set up as a user's is)."""
    result = run_cli(env, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_a_key_is_made_once_listed_without_its_secret_and_revoked(env: dict[str, str]) -> None:
    made = ragqa(env, "keys", "create", "ops-bot", "--role", "ask", "--role", "ingest", "-c", "docs",
                 "--group", "legal", "--json")
    assert isinstance(made, dict) and made["key"].startswith("rq_") and made["roles"] == ["ask", "ingest"]
    client = redis.Redis.from_url(SHARED_REDIS)
    prefix = env["RAGQA_REDIS__KEY_PREFIX"]
    stored = client.hgetall(Keyspace(prefix).api_key(key_digest(made["key"])))
    assert stored[b"name"] == b"ops-bot" and made["key"].encode() not in b"".join(stored.values())
    listed = ragqa(env, "keys", "list", "--json")
    assert [(k["name"], k["collections"], k["groups"]) for k in listed] == [("ops-bot", ["docs"], ["legal"])]
    assert "key" not in listed[0]
    bad = run_cli(env, "keys", "create", "x", "--role", "owner")
    assert bad.returncode != 0 and "roles must be some of" in bad.stdout + bad.stderr
    ragqa(env, "keys", "revoke", "ops-bot", "--json")
    assert ragqa(env, "keys", "list", "--json") == []
    assert ragqa(env, "keys", "list", "--revoked", "--json")[0]["revoked"]  # type: ignore[index]
    actions = [(e["action"], e["target"]) for e in iter_audit(client, prefix)]
    assert actions == [("key_create", "ops-bot"), ("key_revoke", "ops-bot")]


def test_ingest_with_readers_keeps_them_on_a_plain_re_ingest_and_is_audited(env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    from bootstrap.components import Components
    from core.types import SearchFilters

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "memo.txt").write_text("Project Heron is the planned merger with Oskel Industries.")
    ragqa(env, "ingest", str(folder), "--acl", "group:legal", "--json")
    (folder / "memo.txt").write_text("Project Heron is the planned merger with Oskel Industries, signed in March.")
    ragqa(env, "ingest", str(folder), "--json")  # changed text, no --acl: the readers stay
    settings = Settings(redis={"url": SHARED_REDIS, "key_prefix": env["RAGQA_REDIS__KEY_PREFIX"]},
                        qdrant={"path": env["RAGQA_QDRANT__PATH"]})
    with Components(settings) as parts:
        [chunk] = parts.index.document_chunks("docs", "memo.txt")
        assert chunk.acl == ("group:legal",) and "signed in March" in chunk.text
        assert parts.index.count("docs", SearchFilters(readers=("*", "group:finance"))) == 0
        assert parts.index.count("docs", SearchFilters(readers=("*", "group:legal"))) == 1
    bad = run_cli(env, "ingest", str(folder), "--acl", "team:x")
    assert bad.returncode != 0 and "user:NAME or group:NAME" in bad.stdout + bad.stderr
    trail = list(iter_audit(redis.Redis.from_url(SHARED_REDIS), env["RAGQA_REDIS__KEY_PREFIX"]))
    assert [(e["action"], e["doc_ids"]) for e in trail] == [("ingest", ["memo.txt"]), ("ingest", ["memo.txt"])]
