"""No stale answers across processes: serve → ask → stop → `ragqa ingest` a changed file → serve → ask.

Every step is its own `ragqa` process (the server through `ragqa serve --ask-once`, which starts the
real app, asks over HTTP and stops), all sharing one embedded Qdrant store and the shared Redis
(a key prefix of this test's own). The embedded store admits one process at a time, so the server
and the CLI take turns, as a user's would. Before the index owned its version, `ragqa ingest` and
`ragqa delete` moved nothing the cache could see, and the second server served the old answer.

Answers are extractive (no LLM): sentences quoted from the documents, so the text shows which
version of the file the answer came from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import REPO
from tests.support.services import free_port

pytestmark = pytest.mark.slow

QUESTION = "What is the code of the harbour museum vault?"
OLD, NEW = "ALPHA-SEVEN", "OMEGA-NINE"
VAULT = ("The harbour museum keeps its silver in an old steel vault.\n\n"
         "The code of the harbour museum vault is {code}.\n\n"
         "Only the curator and her deputy know the code of the vault.\n")


def ragqa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO, check=False)  # fmt: skip


def ask(env: dict[str, str]) -> dict[str, Any]:
    """One server process: start, ask once over HTTP, stop."""
    run = ragqa(env, "serve", "--ask-once", QUESTION, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    answer: dict[str, Any] = json.loads(run.stdout)["answer"]
    assert "error" not in answer, answer
    return answer


def cited(answer: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in answer["citations"]}


@pytest.fixture
def env(tmp_path: Path, redis_url: str, key_prefix: str) -> dict[str, str]:
    return {
        **os.environ, "HF_HUB_OFFLINE": "1",
        "RAGQA_QDRANT__PATH": str(tmp_path / "qdrant"),
        "RAGQA_REDIS__URL": redis_url, "RAGQA_REDIS__KEY_PREFIX": f"{key_prefix}stale:",
        "RAGQA_API__UPLOAD_DIR": str(tmp_path / "uploads"),
        "RAGQA_ANSWER__MODE": "extractive",
        "RAGQA_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # never called in extractive mode
    }  # fmt: skip


def test_restarted_servers_never_serve_answers_from_before_an_ingest_or_a_delete(
        env: dict[str, str], tmp_path: Path, corpus_dir: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kangaroo.txt").write_bytes((corpus_dir / "set1" / "a1.txt").read_bytes())
    vault = docs / "vault.txt"
    vault.write_text(VAULT.format(code=OLD))
    assert ragqa(env, "ingest", str(docs), "--json").returncode == 0

    first = ask(env)
    assert first["cached"] is False and "vault.txt" in cited(first) and OLD in first["text"], first
    again = ask(env)  # another server process: the cache outlives it (why staleness could happen at all)
    assert again["cached"] is True and again["answer_id"] == first["answer_id"]

    vault.write_text(VAULT.format(code=NEW))
    ingested = ragqa(env, "ingest", str(docs), "--json")
    assert ingested.returncode == 0 and json.loads(ingested.stdout)["updated"] == 1, ingested.stdout

    changed = ask(env)
    assert changed["cached"] is False and "vault.txt" in cited(changed), changed
    assert NEW in changed["text"] and OLD not in json.dumps(changed), changed

    deleted = ragqa(env, "delete", "vault.txt", "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["deleted"]["vault.txt"] > 0, deleted.stdout

    gone = ask(env)
    assert gone["cached"] is False and "vault.txt" not in cited(gone), gone
    assert NEW not in json.dumps(gone) and OLD not in json.dumps(gone)
    stats = json.loads(ragqa(env, "stats", "--json").stdout)
    assert stats["documents"] == 1  # the kangaroo article; the version point is no document
