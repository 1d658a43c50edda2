"""What `ragqa collection reindex` sends a server and how it shows the task it follows (pure logic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.collection_schemas import ReindexRequest
from cli.server_reindex import progress_line, reindex_request, task_error
from core.settings import Settings


def status(**changes: Any) -> dict[str, Any]:
    return {"state": "running", "documents_total": 10, "documents_done": 3, "documents_failed": 0,
            "chunks_written": 120, "switched_at": None, "grace_s": 5.0, **changes}


def test_the_request_carries_this_commands_chunking_and_embedder_and_the_server_reads_it(tmp_path: Path) -> None:
    settings = Settings(chunking={"chunk_size": 160, "chunk_overlap": 16},
                        embedding={"backend": "sentence-transformers", "model_path": tmp_path / "model"})
    body = reindex_request(settings, grace_s=2.0, stored_text=True)
    assert body == {"chunk_size": 160, "chunk_overlap": 16, "grace_s": 2.0, "stored_text": True,
                    "embedding_backend": "sentence-transformers", "embedding_model_path": str(tmp_path / "model")}
    options = ReindexRequest.model_validate(body).options()
    assert options.chunking == {"chunk_size": 160, "chunk_overlap": 16} and not options.read_files
    assert options.expect_embedder == ("sentence-transformers", str(tmp_path / "model"))
    assert reindex_request(Settings(), 5.0, False)["embedding_model_path"] is None


def test_progress_lines_change_with_the_task() -> None:
    assert progress_line(status(state="queued", documents_total=None, documents_done=0, chunks_written=0)) == (
        "queued: 0/? documents rebuilt, 0 chunks")
    assert progress_line(status(documents_failed=1)) == "running: 3/10 documents rebuilt, 1 failed, 120 chunks"
    assert progress_line(status(switched_at=1.0)).endswith("; switched, the old collection goes in 5 s")
    assert progress_line(status(state="done", documents_done=10, switched_at=1.0)).endswith("120 chunks; switched")


def test_a_failed_task_keeps_the_servers_code() -> None:
    error = task_error({"error": {"code": "ingest_error", "message": "1 document(s) could not be rebuilt"}},
                       "http://127.0.0.1:8000")
    assert error.code == "ingest_error" and "could not be rebuilt" in error.message
    assert task_error({"error": None}, "http://x").code == "internal_error"
