"""`ragqa collection list/drop/reindex`, `ragqa backup` and `ragqa restore` as a user runs them: real
processes over an embedded store (each takes its turn on it), the shared Redis under this test's own
key prefix (the audit trail), and answers asked in this process between the turns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.components import Components
from core.answer_request import AnswerRequest
from core.errors import InvalidRequest
from core.settings import Settings
from ingest.sources import SourceDocument, iter_sources
from retrieval.backup import restore_collection
from tests.support.environment import REPO, require
from tests.support.services import SHARED_REDIS, delete_prefix, redis_reachable

pytestmark = pytest.mark.slow  # a few `ragqa` processes each: ~10 s on 2 busy cores

QUESTIONS = ("What is a collective noun for kangaroos?", "Where do joeys complete postnatal development?",
             "Can otters survive in cold water?", "Who sells the blue notebooks?")
NOTES = {"shop.txt": "The corner shop on Elm Street sells blue notebooks and green pens.\n\n"
                     "It opens at eight in the morning and closes at six.\n",
         "tea.txt": "Green tea is steeped for two minutes in water below boiling.\n"}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    prefix = f"ragqa-test-{uuid.uuid4().hex[:12]}:"
    yield {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "RAGQA_QDRANT__PATH": str(tmp_path / "store"),
           "RAGQA_REDIS__URL": SHARED_REDIS, "RAGQA_REDIS__KEY_PREFIX": prefix, "RAGQA_ANSWER__MODE": "extractive"}
    delete_prefix(SHARED_REDIS, prefix)


def ragqa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=REPO, check=False)  # fmt: skip


def opened(env: dict[str, str], embedder: Any) -> Components:
    parts = Components(Settings(qdrant={"path": env["RAGQA_QDRANT__PATH"]}, answer={"mode": "extractive"}))
    parts.__dict__["embedder"] = embedder  # the session's model: loaded once
    return parts


def answers(parts: Components) -> list[tuple[Any, ...]]:
    """Each question's answer as a user sees it: the text and every citation's place and quote."""
    out = []
    for question in QUESTIONS:
        answer = parts.answerer.ask(AnswerRequest(question, "docs"))
        out.append((answer.text, answer.confidence, [
            (c.chunk_id, c.doc_id, c.start, c.end, c.quote and (c.quote.start, c.quote.end, c.quote.text))
            for c in answer.citations]))
    return out


def test_backup_wipe_restore_answers_the_same_with_the_same_citations(
        env: dict[str, str], tmp_path: Path, embedder: Any, corpus_dir: Path) -> None:
    parts = opened(env, embedder)
    with parts:
        sources = [s for s in iter_sources([corpus_dir / "set1"]) if s.doc_id in ("a1.txt", "a7.txt")]
        notes = [SourceDocument(name, name, f"upload:{name}", data=text.encode()) for name, text in NOTES.items()]
        assert parts.pipeline.ingest([*sources, *notes], "docs").counts()["added"] == 4
        before = answers(parts)
    assert all(cited for _, _, cited in before), before

    backup = ragqa(env, "backup", "docs", "--out", str(tmp_path / "backup"), "--json")
    assert backup.returncode == 0, backup.stderr
    manifest = json.loads(backup.stdout)["manifest"]
    assert (manifest["collection"], manifest["documents"]) == ("docs", 4)
    assert manifest["embedder"] == embedder.identity and manifest["writer"]["chunker_version"]

    shutil.rmtree(tmp_path / "store")  # the wipe
    restored = ragqa(env, "restore", str(tmp_path / "backup"), "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["chunks"] == manifest["chunks"]

    with opened(env, embedder) as parts:
        assert parts.index.list_collections() == ["docs"]
        assert answers(parts) == before
        with pytest.raises(InvalidRequest, match="--replace"):  # over a collection that exists
            restore_collection(parts.index, tmp_path / "backup")


def test_list_reindex_and_drop(env: dict[str, str], tmp_path: Path, embedder: Any) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text)
    with opened(env, embedder) as parts:
        assert parts.pipeline.ingest(iter_sources([folder]), "docs").counts()["added"] == 2
        assert parts.pipeline.ingest(iter_sources([folder / "tea.txt"]), "notes").counts()["added"] == 1
    (folder / "shop.txt").unlink()  # its text comes back from the index; tea.txt from its file

    reindexed = ragqa(env, "collection", "reindex", "docs", "--grace", "0", "--json")
    assert reindexed.returncode == 0, reindexed.stderr
    assert json.loads(reindexed.stdout) | {"seconds": 0} == {
        "collection": "docs", "old": "docs", "new": "docs__v1", "documents": 2, "from_files": 1, "from_index": 1,
        "caught_up": 0, "chunks": 2, "switched": True, "seconds": 0, "failures": []}

    listed = ragqa(env, "collection", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["collections"]}
    assert {n: (r["physical"], r["points"], r["documents"]) for n, r in rows.items()} == {
        "docs": ("docs__v1", 2, 2), "notes": ("notes", 1, 1)}
    assert rows["docs"]["embedder"] == embedder.identity

    unconfirmed = ragqa(env, "collection", "drop", "docs", "--json")
    assert unconfirmed.returncode == 2 and "--yes" in json.loads(unconfirmed.stdout)["error"]["message"]
    dropped = ragqa(env, "collection", "drop", "docs", "--yes", "--json")
    assert dropped.returncode == 0, dropped.stderr
    assert json.loads(dropped.stdout) == {"dropped": "docs", "physical": "docs__v1", "points": 2}
    with opened(env, embedder) as parts:
        assert (parts.index.list_collections(), parts.index.list_physical(), parts.index.aliases()) == (
            ["notes"], ["notes"], {})
