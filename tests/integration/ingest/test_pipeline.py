"""The ingestion pipeline end to end: real parsers, the real embedder, a real embedded Qdrant store."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.settings import Settings
from core.types import SearchFilters
from ingest.pipeline import IngestPipeline
from ingest.report import IngestReport
from ingest.sources import SourceDocument, iter_sources
from retrieval.backends import open_index
from retrieval.index import IndexPoint, VectorIndex
from retrieval.sparse import Bm25SparseEncoder

COLLECTION = "cmu"


class WriteCountingIndex:
    """The real index, with a tally of the writes that pass through it and the last point written
    under each (collection, chunk id)."""

    def __init__(self, inner: VectorIndex) -> None:
        self.inner = inner
        self.writes = 0
        self.points: dict[tuple[str, str], IndexPoint] = {}

    def upsert(self, collection: str, points: Any) -> None:
        self.writes += 1
        self.points.update({(collection, p.chunk.chunk_id): p for p in points})
        self.inner.upsert(collection, points)

    def written(self, collection: str) -> dict[str, IndexPoint]:
        return {chunk_id: p for (name, chunk_id), p in self.points.items() if name == collection}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class PoisonAwareEmbedder:
    """The real embedder, except that it raises on a batch that holds "POISON"."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> Any:
        if any("POISON" in t for t in texts):
            raise RuntimeError("simulated embedder crash")
        return self.inner.embed_documents(texts)


@pytest.fixture(scope="module")
def corpus_copy(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the articles (.txt and .htm), so tests can change a file."""
    target = tmp_path_factory.mktemp("corpus")
    for path in sorted(corpus_dir.rglob("*")):
        if path.suffix in (".txt", ".htm"):
            dest = target / path.relative_to(corpus_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    return target


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(qdrant={"path": tmp_path_factory.mktemp("qdrant")})


@pytest.fixture(scope="module")
def index(settings: Settings) -> Iterator[WriteCountingIndex]:
    inner = open_index(settings.qdrant)
    yield WriteCountingIndex(inner)
    inner.close()


@pytest.fixture(scope="module")
def pipeline(embedder: Any, index: WriteCountingIndex, settings: Settings) -> IngestPipeline:
    return IngestPipeline(embedder, Bm25SparseEncoder(), index, settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def first_report(pipeline: IngestPipeline, corpus_copy: Path) -> IngestReport:
    return pipeline.ingest(iter_sources([corpus_copy]), COLLECTION)


def doc_chunk_ids(index: WriteCountingIndex, doc_id: str) -> list[str]:
    count = index.count(COLLECTION, SearchFilters(doc_ids=(doc_id,)))
    return [c.chunk_id for c in index.chunks_by_ordinal(COLLECTION, doc_id, list(range(count)))]


def test_whole_corpus_is_indexed(first_report: IngestReport, corpus_copy: Path, index: WriteCountingIndex) -> None:
    files = [p for p in corpus_copy.rglob("*") if p.is_file()]
    assert len(files) == 15  # the in-repo subset: 13 articles as .txt, two of them also as .htm (its README)
    counts = first_report.counts()
    assert counts == {"added": len(files), "updated": 0, "unchanged": 0, "failed": 0}, first_report.failures
    assert index.count(COLLECTION) == first_report.chunks_written
    stats = index.stats(COLLECTION)
    assert (stats.documents, stats.chunks, stats.dense_size) == (len(files), first_report.chunks_written, 384)
    for result in first_report.results[:10]:
        ids = doc_chunk_ids(index, result.doc_id)
        assert len(ids) == len(set(ids)) == result.chunks


def test_html_is_indexed_as_visible_text(first_report: IngestReport, index: WriteCountingIndex) -> None:
    chunks = index.chunks_by_ordinal(COLLECTION, "set1/a1.htm", [0])
    assert chunks[0].title.lower() == "kangaroo"
    assert "<" not in chunks[0].text and "&apos;" not in chunks[0].text


def test_reingest_writes_nothing(
    first_report: IngestReport, pipeline: IngestPipeline, corpus_copy: Path, index: WriteCountingIndex
) -> None:
    before = index.count(COLLECTION)
    writes = index.writes
    again = pipeline.ingest(iter_sources([corpus_copy]), COLLECTION)
    assert again.counts()["unchanged"] == len(first_report.results)
    assert again.chunks_written == 0
    assert index.writes == writes
    assert index.count(COLLECTION) == before


def test_changed_document_replaces_only_its_chunks(
    first_report: IngestReport, pipeline: IngestPipeline, corpus_copy: Path, index: WriteCountingIndex
) -> None:
    target, neighbour = "set2/a3.txt", "set2/a4.txt"
    old_ids = set(doc_chunk_ids(index, target))
    neighbour_ids = doc_chunk_ids(index, neighbour)
    total_before = index.count(COLLECTION)
    path = corpus_copy / target
    text = path.read_text(encoding="utf-8")
    middle = len(text) // 2
    path.write_text(text[:middle] + "\n\nA freshly inserted paragraph about platypus venom.\n\n"
                    + text[middle:].replace(".", "!", 3), encoding="utf-8")

    report = pipeline.ingest(iter_sources([corpus_copy]), COLLECTION)

    assert report.counts()["updated"] == 1
    assert report.counts()["unchanged"] == len(first_report.results) - 1
    new_ids = doc_chunk_ids(index, target)
    assert len(new_ids) == report.chunks_written
    assert index.count(COLLECTION, SearchFilters(doc_ids=(target,))) == len(new_ids)  # no stale chunk
    assert old_ids - set(new_ids), "changed text must give new chunk ids"
    assert doc_chunk_ids(index, neighbour) == neighbour_ids
    assert index.count(COLLECTION) == total_before - len(old_ids) + len(new_ids)
    hits = index.chunks_by_ordinal(COLLECTION, target, list(range(len(new_ids))))
    assert any("platypus venom" in c.text for c in hits)


def test_delete_removes_every_chunk(first_report: IngestReport, pipeline: IngestPipeline,
                                    index: WriteCountingIndex) -> None:
    doc_id = "set3/a5.htm"
    expected = index.count(COLLECTION, SearchFilters(doc_ids=(doc_id,)))
    assert expected > 0
    total = index.count(COLLECTION)
    assert pipeline.delete_document(COLLECTION, doc_id) == expected
    assert index.count(COLLECTION, SearchFilters(doc_ids=(doc_id,))) == 0
    assert index.count(COLLECTION) == total - expected


def test_a_document_that_breaks_the_pipeline_fails_alone(
    embedder: Any, index: WriteCountingIndex, settings: Settings, corpus_dir: Path
) -> None:
    sources = [
        SourceDocument("good-1", "good-1.txt", "mem://good-1", data=(corpus_dir / "set1/a2.txt").read_bytes()),
        SourceDocument("poison", "poison.txt", "mem://poison", data=b"This text carries POISON for the model."),
        SourceDocument("good-2", "good-2.txt", "mem://good-2", data=(corpus_dir / "set1/a3.txt").read_bytes()),
    ]
    pipeline = IngestPipeline(PoisonAwareEmbedder(embedder), Bm25SparseEncoder(), index, settings)  # type: ignore[arg-type]
    report = pipeline.ingest(sources, "poison-test")
    assert report.counts()["added"] == 2
    [failure] = report.failures
    assert failure.doc_id == "poison" and "simulated embedder crash" in (failure.reason or "")
    assert index.count("poison-test", SearchFilters(doc_ids=("poison",))) == 0
    assert index.count("poison-test") == report.chunks_written


def test_new_tags_on_an_unchanged_document_are_written_without_re_embedding(
    first_report: IngestReport, pipeline: IngestPipeline, corpus_copy: Path, index: WriteCountingIndex
) -> None:
    def article(tags: dict[str, str]) -> list[SourceDocument]:
        return [s for s in iter_sources([corpus_copy], tags=tags) if s.doc_id == "set1/a1.txt"]

    writes = index.writes
    report = pipeline.ingest(article({"team": "marsupials"}), COLLECTION)
    result = report.results[0]
    assert (result.status, result.reason, report.chunks_written) == (
        "updated", "tags or access updated, vectors kept", 0)
    assert index.writes == writes  # no chunk upserted: the vectors stay as they were
    found = index.count(COLLECTION, SearchFilters(tags_all=(("team", "marsupials"),)))
    assert found == index.count(COLLECTION, SearchFilters(doc_ids=(result.doc_id,))) > 0
    again = pipeline.ingest(article({"team": "marsupials"}), COLLECTION)
    assert again.results[0].status == "unchanged"


def test_progress_hooks_count_parsed_and_embedded_chunks(pipeline: IngestPipeline, corpus_copy: Path) -> None:
    parsed: dict[str, int] = {}
    embedded: list[int] = []
    sources = [s for s in iter_sources([corpus_copy / "set1"]) if s.doc_id in ("a2.txt", "a3.txt", "a7.txt")]
    report = pipeline.ingest(sources, "progress", on_parsed=lambda s, n: parsed.__setitem__(s.doc_id, n),
                             on_embedded=embedded.append)
    assert set(parsed) == {"a2.txt", "a3.txt", "a7.txt"}
    # The bar's total (chunks parsed) and its progress (chunks embedded) both end at what was written.
    assert sum(parsed.values()) == sum(embedded) == report.chunks_written > 0
    assert {r.doc_id: r.chunks for r in report.results} == parsed


def small_articles(corpus_dir: Path) -> list[SourceDocument]:
    return [s for s in iter_sources([corpus_dir / "set1"]) if s.doc_id in ("a10.txt", "a7.txt", "a9.txt")]


def test_many_small_groups_write_what_one_group_writes(
    embedder: Any, index: WriteCountingIndex, settings: Settings, corpus_dir: Path
) -> None:
    """Groups embedded on the background thread, beside the writes, land exactly as one group does."""
    one = IngestPipeline(embedder, Bm25SparseEncoder(), index, settings, flush_chunks=10_000)  # type: ignore[arg-type]
    # flush_chunks=1: each article is a group of its own, three groups in all.
    many = IngestPipeline(embedder, Bm25SparseEncoder(), index, settings, flush_chunks=1)  # type: ignore[arg-type]
    embedded_on: set[str] = set()

    def chunk_spans(collection: str, doc_id: str) -> list[tuple[str, str, int, int]]:
        return [(c.chunk_id, c.text, c.start, c.end) for c in index.document_chunks(collection, doc_id)]

    single = one.ingest(small_articles(corpus_dir), "one-group")
    multi = many.ingest(small_articles(corpus_dir), "many-groups",
                        on_embedded=lambda n: embedded_on.add(threading.current_thread().name))

    assert multi.counts() == single.counts() == {"added": 3, "updated": 0, "unchanged": 0, "failed": 0}
    assert [(r.doc_id, r.chunks) for r in multi.results] == [(r.doc_id, r.chunks) for r in single.results]
    assert embedded_on and threading.current_thread().name not in embedded_on
    assert index.count("many-groups") == index.count("one-group") == multi.chunks_written
    for result in multi.results:
        assert chunk_spans("many-groups", result.doc_id) == chunk_spans("one-group", result.doc_id)
    a, b = index.written("one-group"), index.written("many-groups")
    assert a.keys() == b.keys() and len(a) == multi.chunks_written
    for chunk_id, point in a.items():
        assert np.allclose(point.dense, b[chunk_id].dense, atol=1e-6), chunk_id
        assert (point.sparse, point.chunk_count, point.pipeline) == (b[chunk_id].sparse, b[chunk_id].chunk_count,
                                                                      b[chunk_id].pipeline)
    # What the index holds, not only what was sent: the same neighbours at the same scores.
    query = embedder.embed_query("kangaroo")
    ranked_one, ranked_many = index.ranked("one-group", query, None, 10), index.ranked("many-groups", query, None, 10)
    assert [r.chunk_id for r in ranked_one] == [r.chunk_id for r in ranked_many]
    assert np.allclose([r.score for r in ranked_one], [r.score for r in ranked_many], atol=1e-5)


def test_a_failing_document_in_a_many_group_run_fails_alone(
    embedder: Any, index: WriteCountingIndex, settings: Settings, corpus_dir: Path
) -> None:
    poison = SourceDocument("poison", "poison.txt", "mem://poison", data=b"This text carries POISON for the model.")
    # Two chunks a group: poison (one chunk) shares the first with a10.txt, the others follow.
    pipeline = IngestPipeline(PoisonAwareEmbedder(embedder), Bm25SparseEncoder(), index, settings,  # type: ignore[arg-type]
                              flush_chunks=2)
    report = pipeline.ingest([poison, *small_articles(corpus_dir)], "poison-groups")

    assert report.counts() == {"added": 3, "updated": 0, "unchanged": 0, "failed": 1}
    [failure] = report.failures
    assert failure.doc_id == "poison" and "simulated embedder crash" in (failure.reason or "")
    assert index.count("poison-groups", SearchFilters(doc_ids=("poison",))) == 0
    for result in report.results:
        if result.status == "added":
            assert index.count("poison-groups", SearchFilters(doc_ids=(result.doc_id,))) == result.chunks > 0
    assert index.count("poison-groups") == report.chunks_written
