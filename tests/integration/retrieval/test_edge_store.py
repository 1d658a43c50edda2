"""What only the Edge backend has: its folder layout, its shard locks, and how the engines are chosen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import CollectionMismatch, IndexLocked, IndexUnavailable, InvalidRequest
from core.settings import QdrantSettings
from core.types import FusionSpec
from retrieval.backends import open_index
from retrieval.edge_index import EdgeIndex
from retrieval.qdrant_client_index import QdrantClientIndex
from tests.integration.retrieval.corpus import (
    COLLECTION,
    DIM,
    REPO,
    TOTAL_CHUNKS,
    load_corpus,
    run_python,
    topic_vector,
)

pytestmark = pytest.mark.integration


def test_layout_is_one_shard_folder_per_collection(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path)
    index.ensure_collection("a", DIM)
    index.ensure_collection("b", DIM * 2)
    (tmp_path / "stray-folder").mkdir()  # not a collection: no manifest
    (tmp_path / ".creating-c-0000").mkdir()  # an interrupted creation
    assert index.list_collections() == ["a", "b"]
    assert (tmp_path / "a" / "ragqa.json").is_file() and (tmp_path / "a" / "segments").is_dir()
    with pytest.raises(CollectionMismatch, match="not a ragqa collection"):
        index.ensure_collection("stray-folder", DIM)
    with pytest.raises(InvalidRequest):
        index.ensure_collection("../escape", DIM)
    index.drop_collection("a")
    assert not (tmp_path / "a").exists()
    index.close()
    reopened = EdgeIndex(tmp_path)  # sweeps what an interrupted creation left
    assert not (tmp_path / ".creating-c-0000").exists()
    assert reopened.list_collections() == ["b"]
    reopened.close()


def test_a_second_index_in_the_same_process_is_locked_out(tmp_path: Path) -> None:
    first = EdgeIndex(tmp_path)
    with pytest.raises(IndexLocked):
        EdgeIndex(tmp_path)
    first.close()
    with pytest.raises(IndexUnavailable, match="closed"):
        first.list_collections()  # another process may own the folder now
    first.close()  # closing twice is harmless
    EdgeIndex(tmp_path).close()


def test_shard_held_by_another_program_is_index_locked(tmp_path: Path) -> None:
    """Edge's own WAL lock ("Can't init WAL: WouldBlock") is translated too, not only our store lock."""
    index = EdgeIndex(tmp_path)
    load_corpus(index)
    index.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, qdrant_edge\n"
         f"shard = qdrant_edge.EdgeShard.load({str(tmp_path / COLLECTION)!r})\n"
         "print('held', flush=True)\nsys.stdin.read()\n"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        index = EdgeIndex(tmp_path)
        with pytest.raises(IndexLocked, match="RAGQA_QDRANT__URL") as caught:
            index.count(COLLECTION)
        assert str(tmp_path / COLLECTION) in caught.value.message
        index.close()
    finally:
        holder.communicate("", timeout=30)
    index = EdgeIndex(tmp_path)
    assert index.count(COLLECTION) == TOTAL_CHUNKS
    index.close()


def test_writes_are_durable_without_close(tmp_path: Path) -> None:
    """A process that dies without close() loses nothing it wrote (the WAL is replayed)."""
    crashed = run_python(
        "import os\nfrom pathlib import Path\nfrom retrieval.edge_index import EdgeIndex\n"
        "from tests.integration.retrieval.corpus import load_corpus\n"
        f"index = EdgeIndex(Path({str(tmp_path)!r}))\nload_corpus(index)\nos._exit(0)\n"
    )
    assert crashed.returncode == 0, crashed.stderr
    index = EdgeIndex(tmp_path)
    assert index.count(COLLECTION) == TOTAL_CHUNKS
    assert index.query(COLLECTION, topic_vector("rocks"), None, FusionSpec("dense"), 1)[0].chunk.doc_id == "rocks.pdf"
    index.close()


@pytest.mark.parametrize(("backend", "expected"), [
    ("auto", EdgeIndex), ("edge", EdgeIndex), ("local", QdrantClientIndex),
])
def test_open_index_picks_the_engine(tmp_path: Path, backend: str, expected: type) -> None:
    index = open_index(QdrantSettings(path=tmp_path, backend=backend))  # type: ignore[arg-type]
    try:
        assert isinstance(index, expected)
    finally:
        index.close()


def test_auto_keeps_an_existing_local_mode_store(tmp_path: Path) -> None:
    local = QdrantClientIndex.for_local(tmp_path)
    local.ensure_collection(COLLECTION, DIM)
    local.close()
    index = open_index(QdrantSettings(path=tmp_path))
    try:
        assert isinstance(index, QdrantClientIndex)
        assert index.list_collections() == [COLLECTION]
    finally:
        index.close()
