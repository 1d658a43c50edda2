"""Answer modes end to end on real text, the real embedder and a real embedded index: extractive
answers quote exact spans, the evidence floor refuses what the documents don't hold, generated
answers are aligned sentence by sentence, and ``auto`` replaces loops and unsupported claims."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.answer_request import AnswerRequest
from core.protocols import ChatModel, Embedder
from core.settings import Settings
from core.types import Answer
from generation.answerer import Answerer
from generation.answers import AnswerDelta, AnswerDone
from generation.guardrails.instructions import Vectors
from ingest.parsing import parse_bytes
from ingest.pipeline import IngestPipeline
from ingest.sources import SourceDocument
from retrieval.backends import open_index
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder
from tests.support.fakes import ScriptedChatModel, UncallableChatModel

pytestmark = pytest.mark.integration

ARTICLES = {"set3/a4.txt": "Abraham Lincoln", "set1/a1.txt": "Kangaroo", "set2/a1.txt": "Amedeo Avogadro"}
LOOP = "RagQA is a QA-based " + "QA-based " * 60


class Corpus:
    def __init__(self, settings: Settings, embedder: Embedder, instruction_vectors: Vectors,
                 texts: dict[str, str]) -> None:
        self.settings, self.embedder, self.texts = settings, embedder, texts
        self.instruction_vectors = instruction_vectors
        self.sparse = Bm25SparseEncoder()
        self.index = open_index(settings.qdrant)
        self.retriever = HybridRetriever(self.index, embedder, self.sparse, settings.retrieval)

    def answerer(self, mode: str, chat_model: ChatModel | None = None) -> Answerer:
        settings = self.settings.model_copy(update={"answer": self.settings.answer.model_copy(update={"mode": mode})})
        return Answerer.from_settings(settings, self.retriever, chat_model or UncallableChatModel(),
                                      embedder=self.embedder, sparse=self.sparse,
                                      instruction_vectors=self.instruction_vectors)


@pytest.fixture(scope="module")
def corpus(corpus_dir: Path, embedder: Embedder, instruction_vectors: Vectors,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    settings = Settings(qdrant={"path": tmp_path_factory.mktemp("modes") / "qdrant"})
    sources = [SourceDocument(doc_id, Path(doc_id).name, str(corpus_dir / doc_id), path=corpus_dir / doc_id,
                              title=title) for doc_id, title in ARTICLES.items()]
    texts = {doc_id: parse_bytes((corpus_dir / doc_id).read_bytes(), doc_id).text for doc_id in ARTICLES}
    built = Corpus(settings, embedder, instruction_vectors, texts)
    report = IngestPipeline(embedder, built.sparse, built.index, settings).ingest(sources, "cmu")
    assert report.counts()["added"] == len(ARTICLES), report.failures
    yield built
    built.index.close()


def assert_quotes_are_exact(answer: Answer, texts: dict[str, str]) -> None:
    docs = {c.number: c.doc_id for c in answer.citations}
    assert answer.citations and all(c.quote is not None for c in answer.citations)
    assert all(c.quote is not None and c.quote.number in c.citations for c in answer.claims if c.supported)
    for quote in [c.quote for c in answer.citations] + [c.quote for c in answer.claims]:
        if quote is not None:
            assert texts[docs[quote.number]][quote.start:quote.end] == quote.text
    for citation in answer.citations:
        assert citation.quote is not None and " ".join(citation.quote.text.split()) in citation.snippet
        assert citation.start <= citation.quote.start < citation.quote.end <= citation.end


def test_extractive_answers_quote_the_answering_sentence_without_calling_the_llm(corpus: Corpus) -> None:
    answer = corpus.answerer("extractive").ask(AnswerRequest("When was Abraham Lincoln born?", "cmu"))
    assert answer.mode == "extractive" and not answer.refused and answer.degraded is None
    assert "1809" in answer.claims[0].text
    assert answer.grounded == 1.0
    assert answer.text.startswith(" ".join(answer.claims[0].text.split()))
    assert all(f"[{c.number}]" in answer.text for c in answer.citations)
    assert_quotes_are_exact(answer, corpus.texts)
    assert "evidence" in answer.timings_ms and "generate" not in answer.timings_ms


def test_the_evidence_floor_refuses_questions_about_what_was_never_ingested(corpus: Corpus) -> None:
    answerer = corpus.answerer("extractive")
    answer = answerer.ask(AnswerRequest("What is the capital of Uruguay?", "cmu"))  # nothing related
    assert answer.refused, answer.text
    assert any(e.kind in ("evidence_floor", "refusal_floor") for e in answer.guardrail_events)
    # Near-domain (another president, over Lincoln's article): refused or shown as low confidence
    # with the closest passage, never a confident answer.
    near = answerer.ask(AnswerRequest("When did Calvin Coolidge become president?", "cmu"))
    assert near.confidence in ("none", "low") and (near.refused or near.text.startswith("The documents may not"))
    assert not answerer.ask(AnswerRequest("What do kangaroos eat?", "cmu")).refused


def test_a_generated_answer_is_aligned_sentence_by_sentence(corpus: Corpus) -> None:
    model = ScriptedChatModel("Lincoln was born on February 12, 1809 [1]. The moon is made of green cheese.")
    answer = corpus.answerer("generative", model).ask(AnswerRequest("When was Abraham Lincoln born?", "cmu"))
    assert answer.mode == "generative" and model.calls == 1
    born, cheese = answer.claims
    assert born.supported and born.quote is not None and "1809" in born.quote.text
    assert not cheese.supported
    assert answer.grounded == 0.5
    assert_quotes_are_exact(answer, corpus.texts)


def test_auto_mode_replaces_an_unsupported_generation_with_the_evidence(corpus: Corpus) -> None:
    model = ScriptedChatModel("Lincoln was born on Mars in 1950 [1]. He played for the Yankees [2].")
    answer = corpus.answerer("auto", model).ask(AnswerRequest("When was Abraham Lincoln born?", "cmu"))
    assert answer.mode == "extractive" and answer.degraded == "ungrounded_generation"
    assert "1809" in answer.text
    assert any(e.kind == "self_check" for e in answer.guardrail_events)
    assert_quotes_are_exact(answer, corpus.texts)


def test_a_streamed_loop_is_cut_early_and_auto_answers_from_the_evidence(corpus: Corpus) -> None:
    model = ScriptedChatModel(LOOP, step=9)
    events = list(corpus.answerer("auto", model).ask_stream(AnswerRequest("When was Abraham Lincoln born?", "cmu")))
    done = events[-1]
    assert isinstance(done, AnswerDone)
    # The loop is noticed within a few repeats, long before its 60 repeats were all generated.
    assert model.deltas_sent < 25
    streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert streamed.lower().count("qa-based") <= 4
    assert done.answer.degraded == "degenerate_generation" and "1809" in done.answer.text
    assert any(e.kind == "degenerate_output" for e in done.answer.guardrail_events)


def test_generative_mode_cuts_a_loop_and_says_so(corpus: Corpus) -> None:
    answer = corpus.answerer("generative", ScriptedChatModel(LOOP)).ask(
        AnswerRequest("When was Abraham Lincoln born?", "cmu"))
    assert answer.text.lower().count("qa-based") <= 3
    assert any(e.kind == "degenerate_output" for e in answer.guardrail_events)
