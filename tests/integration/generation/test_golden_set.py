"""The golden set in CI, beside the quality gate: every answer people confirmed (tests/data/golden/,
made from up-votes by `ragqa golden update`, never typed by hand) is asked again over its corpus,
and a change that breaks one fails: a refusal instead of the answer, or the sentence the confirmed
answer led with no longer shown (`generation.golden` has the rules).

Real corpora (the cmu-qa-dev test articles and this repository's docs/), the real embedder and
index, default settings with extractive answers, as the quality gate builds them.

A case that fails after an intended change (a document reworded, an answer now better) is
re-confirmed, not edited: ask again, up-vote the right answer, `ragqa golden update FILE
--collection C --corpus FOLDER` (see tests/data/golden/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.protocols import Embedder
from core.settings import Settings
from generation.answerer import Answerer
from generation.golden import GoldenCase, Replayed, load_golden, replay_golden
from generation.guardrails.instructions import Vectors
from ingest.pipeline import IngestPipeline
from ingest.sources import iter_sources
from retrieval.backends import open_index
from retrieval.search import HybridRetriever
from retrieval.sparse import Bm25SparseEncoder
from tests.support.environment import REPO
from tests.support.fakes import UncallableChatModel

pytestmark = pytest.mark.integration

GOLDEN = REPO / "tests" / "data" / "golden"


@dataclass
class Replay:
    answerer: Answerer
    collections: dict[str, str]  # corpus folder -> the collection holding it
    cases: list[GoldenCase]

    def run(self, cases: list[GoldenCase], corpus_of: dict[str, str] | None = None) -> list[Replayed]:
        return replay_golden(cases, lambda corpus: self.collections[(corpus_of or {}).get(corpus, corpus)],
                             self.answerer.ask)


@pytest.fixture(scope="module")
def replay(embedder: Embedder, instruction_vectors: Vectors, tmp_path_factory: pytest.TempPathFactory,
           monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Replay]:
    cases = [c for path in sorted(GOLDEN.glob("*.jsonl")) for c in load_golden(path)]
    monkeypatch_module.chdir(REPO)  # corpus folders are relative to the repository
    settings = Settings(qdrant={"path": tmp_path_factory.mktemp("golden") / "qdrant"}, answer={"mode": "extractive"})
    sparse = Bm25SparseEncoder()
    index = open_index(settings.qdrant)
    pipeline = IngestPipeline(embedder, sparse, index, settings)
    collections = {}
    for number, corpus in enumerate(sorted({c.corpus for c in cases})):
        collections[corpus] = f"golden-{number}"
        report = pipeline.ingest(list(iter_sources([Path(corpus)])), collections[corpus])
        assert not report.failures and report.counts()["added"], report.to_dict()
    retriever = HybridRetriever(index, embedder, sparse, settings.retrieval)
    answerer = Answerer.from_settings(settings, retriever, UncallableChatModel(), embedder=embedder, sparse=sparse,
                                      instruction_vectors=instruction_vectors)  # as the service builds it
    yield Replay(answerer, collections, cases)
    index.close()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_golden_set_covers_both_corpora(replay: Replay) -> None:
    assert {c.corpus for c in replay.cases} == {"docs", "tests/data/cmu-qa-dev/articles"}
    assert len(replay.cases) >= 20 and all(c.evidence or c.expect == "refusal" for c in replay.cases)


def test_every_confirmed_answer_still_holds(replay: Replay) -> None:
    broken = [r for r in replay.run(replay.cases) if r.problems]
    assert not broken, "confirmed answers broke (re-confirm an intended change: tests/data/golden/README.md):\n" + \
        "\n".join(f"- [{r.case.collection}] {r.case.question}: {'; '.join(r.problems)}" for r in broken)


def test_the_replay_fails_an_answer_whose_evidence_is_gone(replay: Replay) -> None:
    """The same questions over the wrong corpus: no confirmed sentence can be shown, so every case breaks."""
    docs = [c for c in replay.cases if c.corpus == "docs"]
    results = replay.run(docs, corpus_of={"docs": "tests/data/cmu-qa-dev/articles"})
    assert docs and all(r.problems for r in results), [r.to_dict() for r in results if not r.problems]
