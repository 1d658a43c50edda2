"""The quality gate: a fixed small evaluation that fails CI when retrieval or extractive answering
regresses. Real articles (tests/data), the real embedder and index, default settings.

Ten of the thirteen test articles are ingested; the 60 gate questions are the first of theirs
(load order) whose gold answer is not yes/no, and the near-domain questions are 40 about the
three articles left out (same dataset, same kinds of topics). Thresholds are what this suite
measured when the gate was set (the comment beside each) less a margin of about 0.05, so noise
passes and a real regression does not.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.answer_request import AnswerRequest
from core.protocols import Embedder
from core.settings import Settings
from core.types import Answer
from generation.answerer import Answerer
from generation.evaluation import contains_answer
from generation.guardrails.instructions import Vectors
from ingest.parsing import parse_bytes
from ingest.pipeline import IngestPipeline
from ingest.sources import SourceDocument
from retrieval.backends import open_index
from retrieval.evaluation import EvalDataset, EvalQuery, informative_answers, load_qa_tsv
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder
from tests.support.fakes import UncallableChatModel

pytestmark = pytest.mark.integration

LEFT_OUT = ("set3/a2.txt", "set2/a3.txt", "set1/a9.txt")  # James Monroe, Qatar, Turtle
GATE_QUESTIONS = 60
NEAR_DOMAIN_QUESTIONS = 40


class Gate:
    def __init__(self, answerer: Answerer, dataset: EvalDataset, texts: dict[str, str]) -> None:
        self.answerer, self.dataset, self.texts = answerer, dataset, texts
        ingested = [q for q in dataset.queries if next(iter(q.relevant)) not in LEFT_OUT]
        self.gate = [q for q in ingested if informative_answers(q)][:GATE_QUESTIONS]
        self.answerable = ingested
        others = [q for q in dataset.queries if next(iter(q.relevant)) in LEFT_OUT]
        self.near = random.Random(7).sample(others, NEAR_DOMAIN_QUESTIONS)
        self._answers: dict[str, Answer] = {}

    def answer(self, query: EvalQuery) -> Answer:
        if query.query_id not in self._answers:
            self._answers[query.query_id] = self.answerer.ask(AnswerRequest(query.text, "gate"))
        return self._answers[query.query_id]


@pytest.fixture(scope="module")
def gate(qa_tsv: Path, embedder: Embedder, instruction_vectors: Vectors,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    dataset = load_qa_tsv(qa_tsv)
    settings = Settings(qdrant={"path": tmp_path_factory.mktemp("gate") / "qdrant"}, answer={"mode": "extractive"})
    sparse = Bm25SparseEncoder()
    index = open_index(settings.qdrant)
    kept = [d for d in dataset.documents if d.doc_id not in LEFT_OUT and d.path is not None]
    sources = [SourceDocument(d.doc_id, d.path.name, str(d.path), path=d.path, title=d.title)
               for d in kept if d.path is not None]
    report = IngestPipeline(embedder, sparse, index, settings).ingest(sources, "gate")
    assert report.counts()["added"] == len(kept), report.failures
    retriever = HybridRetriever(index, embedder, sparse, settings.retrieval)
    answerer = Answerer.from_settings(settings, retriever, UncallableChatModel(), embedder=embedder, sparse=sparse,
                                      instruction_vectors=instruction_vectors)  # as the service builds it
    texts = {d.doc_id: parse_bytes(d.path.read_bytes(), d.path.name).text for d in kept if d.path is not None}
    yield Gate(answerer, dataset, texts)
    index.close()


def share(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


def test_the_gate_asks_what_it_says_it_asks(gate: Gate) -> None:
    assert len(gate.gate) == GATE_QUESTIONS and len(gate.near) == NEAR_DOMAIN_QUESTIONS
    assert len({next(iter(q.relevant)) for q in gate.gate}) >= 4


def test_retrieval_finds_the_article(gate: Gate) -> None:
    search = gate.answerer.retriever.search
    hits = [any(c.chunk.doc_id == next(iter(q.relevant)) for c in search(q.text, "gate", top_k=5)) for q in gate.gate]
    assert share(hits) >= 0.95  # measured 1.0 (60/60)


def test_extractive_answers_hold_the_gold_answer(gate: Gate) -> None:
    first, anywhere = [], []
    for query in gate.gate:
        answer = gate.answer(query)
        claims = answer.claims
        first.append(bool(claims) and contains_answer(claims[0].text, query.answers) == 1.0)
        anywhere.append(contains_answer(answer.text, query.answers) == 1.0)
    assert share(first) >= 0.46  # measured 0.517 (31/60)
    assert share(anywhere) >= 0.58  # measured 0.633 (38/60)


def test_every_quote_is_the_documents_text_at_its_span(gate: Gate) -> None:
    checked = 0
    for query in gate.gate:
        answer = gate.answer(query)
        doc_of = {c.number: c.doc_id for c in answer.citations}
        for quote in [c.quote for c in answer.citations] + [c.quote for c in answer.claims]:
            assert quote is not None
            assert gate.texts[doc_of[quote.number]][quote.start:quote.end] == quote.text
            checked += 1
    assert checked >= GATE_QUESTIONS


def test_near_domain_questions_are_never_confident_and_answerable_ones_are_not_refused(gate: Gate) -> None:
    """Three outcomes: a near-domain question may get the closest passage shown as low confidence,
    never a confident answer; an answerable one is rarely refused, and its low-confidence answers
    still show evidence."""
    near = [gate.answer(q) for q in gate.near]
    answerable = [gate.answer(q) for q in gate.gate]
    assert share([a.confidence == "high" for a in near]) <= 0.10  # measured 0.0 (0/40)
    # Measured 0.1 (4/40), the rest low confidence; 0.275 before the evidence model was fitted on every
    # genre (its answerability model hedges more and refuses less outside encyclopedias' sharp split).
    assert share([a.refused for a in near]) >= 0.05
    assert share([a.refused for a in answerable]) <= 0.05  # measured 0.0 (0/60); 0.2 are low confidence
    assert all(a.refused == (a.confidence == "none") for a in near + answerable)
    for answer in answerable + near:
        if answer.confidence == "low":
            assert answer.text.startswith("The documents may not answer this directly.")
            assert answer.citations and all(c.quote is not None for c in answer.citations)
