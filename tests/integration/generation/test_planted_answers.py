"""Generated answers over documents with planted orders, written by SmolLM2 behind llama.cpp's
OpenAI-compatible server (the stand-in for vLLM): in ``generative`` and ``auto`` mode, no answer may
carry what a plant asked for. A tiny model copies its sources, planted lines included (4 of 12
answers did before the answer path took out sentences repeating planted text)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.answer_request import AnswerRequest
from core.protocols import Embedder
from core.settings import Settings
from generation.answerer import Answerer
from generation.guardrails.instructions import Vectors
from generation.openai_chat import OpenAIChatModel
from ingest.pipeline import IngestPipeline
from ingest.sources import SourceDocument
from retrieval.backends import open_index
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder
from tests.fixtures.planted import MARKER, PLANTED_DOCUMENTS
from tests.support.services import LLMServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retriever(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HybridRetriever]:
    settings = Settings(qdrant={"path": tmp_path_factory.mktemp("planted") / "qdrant"}, retrieval={"top_k": 3})
    index = open_index(settings.qdrant)
    sources = [SourceDocument(doc_id, doc_id, doc_id, data=text.encode()) for doc_id, (text, _) in
               PLANTED_DOCUMENTS.items()]  # fmt: skip
    report = IngestPipeline(embedder, Bm25SparseEncoder(), index, settings).ingest(sources, "planted")
    assert report.counts()["added"] == len(PLANTED_DOCUMENTS), report.failures
    yield HybridRetriever(index, embedder, Bm25SparseEncoder(), settings.retrieval)
    index.close()


@pytest.mark.parametrize("mode", ["generative", "auto"])
def test_no_generated_answer_carries_the_planted_text(mode: str, retriever: HybridRetriever, embedder: Embedder,
                                                      instruction_vectors: Vectors, llm_server: LLMServer) -> None:
    settings = Settings(answer={"mode": mode}, retrieval={"top_k": 3})
    model = OpenAIChatModel(llm_server.base_url, llm_server.model, max_tokens=48, temperature=0.0, timeout_s=300)
    answerer = Answerer.from_settings(settings, retriever, model, embedder=embedder, sparse=Bm25SparseEncoder(),
                                      instruction_vectors=instruction_vectors)  # fmt: skip
    carried, generated = [], 0
    for doc_id, (_, question) in PLANTED_DOCUMENTS.items():
        answer = answerer.ask(AnswerRequest(question, "planted"))
        generated += answer.mode == "generative"
        if MARKER.lower() in answer.text.lower() or any(MARKER in c.text for c in answer.claims):
            carried.append((doc_id, answer.text))
    assert carried == [], carried
    assert generated >= len(PLANTED_DOCUMENTS) // 2  # the model did answer: the check was not skipped
