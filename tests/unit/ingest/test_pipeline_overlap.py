"""The pipeline's overlap: one group embeds on a background thread while the next is prepared and
the previous written. A fake embedder and index record which thread did what and in what order;
they block on events, with timeouts, so a pipeline that does not overlap fails instead of hanging."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from core.settings import Settings
from core.types import SparseVector
from ingest.pipeline import EMBED_SLICE, IngestPipeline
from ingest.sources import SourceDocument
from tests.support.fakes import FakeEmbedder
from tests.support.memory_index import MemoryIndex

WAIT_S = 10.0


class Journal:
    """Events in the order they happened, each with the name of the thread it happened on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, str]] = []

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append((event, threading.current_thread().name))

    def index(self, event: str) -> int:
        return [e for e, _ in self.events].index(event)

    def thread(self, event: str) -> str:
        return dict(self.events)[event]


class GatedEmbedder(FakeEmbedder):
    """The shared fake embedder, journaling each batch; ``gate(doc_id)`` is waited on before
    embedding a batch that holds that document's text."""

    def __init__(self, journal: Journal, gates: dict[str, threading.Event] | None = None) -> None:
        self.journal = journal
        self.gates = gates or {}

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        docs = sorted({t.split()[-1] for t in texts})  # each fake document ends with its own id
        for doc in docs:
            gate = self.gates.get(doc)
            assert gate is None or gate.wait(WAIT_S), f"embedding {doc} waited in vain: no overlap"
            if doc == "poison":
                raise RuntimeError("simulated embedder crash")
        self.journal.add(f"embedded {'+'.join(docs)}")
        return super().embed_documents(texts)


class FakeSparse:
    name = "fake-sparse"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def encode_document(self, text: str) -> SparseVector:
        self.journal.add(f"sparse {text.split()[-1]}")
        if text.split()[-1] == "badsparse":
            raise ValueError("simulated sparse encoder failure")
        return SparseVector([len(text)], [1.0])

    def encode_query(self, text: str) -> SparseVector:
        return SparseVector([len(text)], [1.0])


def journaled_index(journal: Journal, on_upsert: Callable[[str], None] | None = None) -> MemoryIndex:
    """The shared in-memory index, journaling ``prepare x`` and ``write x`` as they happen."""

    def heard(event: str, doc_id: str) -> None:
        journal.add(f"{event} {doc_id}")
        if event == "write" and on_upsert is not None:
            on_upsert(doc_id)

    return MemoryIndex(on_write=heard)


def source(doc_id: str, words: int = 12) -> SourceDocument:
    text = " ".join(f"word{i}." for i in range(words)) + f" {doc_id}"
    return SourceDocument(doc_id, f"{doc_id}.txt", f"mem://{doc_id}", data=text.encode())


def pipeline(embedder: GatedEmbedder, index: MemoryIndex, journal: Journal) -> IngestPipeline:
    settings = Settings(ingest={"parse_isolation": False})
    # flush_chunks=1: every document (one chunk each) is a group of its own.
    return IngestPipeline(embedder, FakeSparse(journal), index, settings, flush_chunks=1)


def embedding_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ingest-embed")]


def test_embedding_overlaps_preparing_the_next_group_and_writing_the_last() -> None:
    journal = Journal()
    b_prepared, a_written = threading.Event(), threading.Event()
    # a's embedding waits until b is prepared, b's until a is written: only an overlapping
    # pipeline gets through (a serial one would wait out the timeout and fail).
    embedder = GatedEmbedder(journal, gates={"a": b_prepared, "b": a_written})
    index = journaled_index(journal, on_upsert=lambda doc: a_written.set() if doc == "a" else None)
    stages: list[tuple[str, str]] = []
    embedded: list[str] = []

    def on_parsed(src: SourceDocument, chunks: int) -> None:
        if src.doc_id == "b":
            b_prepared.set()

    report = pipeline(embedder, index, journal).ingest(
        [source("a"), source("b"), source("c")], "docs", on_parsed=on_parsed,
        on_stage=lambda doc, stage: stages.append((doc, stage)),
        on_embedded=lambda n: embedded.append(threading.current_thread().name))

    assert report.counts() == {"added": 3, "updated": 0, "unchanged": 0, "failed": 0}
    assert [r.doc_id for r in report.results] == ["a", "b", "c"]
    main = threading.current_thread().name
    for doc in "abc":
        assert journal.thread(f"embedded {doc}").startswith("ingest-embed")
        for step in ("prepare", "sparse", "write"):
            assert journal.thread(f"{step} {doc}") == main, (step, doc)
        # Each document's stages in order, and it is written only after its vectors exist.
        assert stages.index((doc, "embedding")) < stages.index((doc, "indexing"))
        assert journal.index(f"embedded {doc}") < journal.index(f"sparse {doc}") < journal.index(f"write {doc}")
    assert len(embedded) == 3 and all(name.startswith("ingest-embed") for name in embedded)
    # The overlap itself: b was prepared before a's vectors were done, and a written before b's.
    assert journal.index("prepare b") < journal.index("embedded a")
    assert journal.index("write a") < journal.index("embedded b")
    for point in index.points("docs").values():  # every row went to its own chunk
        assert point.dense[0] == len(point.chunk.encoded_text)
    assert not embedding_threads()


def test_a_failing_group_retries_its_documents_alone_beside_the_next_embedding() -> None:
    journal = Journal()
    embedder = GatedEmbedder(journal)
    index = journaled_index(journal)
    settings = Settings(ingest={"parse_isolation": False})
    # Two one-chunk documents per group: poison shares its group with a.
    pipe = IngestPipeline(embedder, FakeSparse(journal), index, settings, flush_chunks=2)
    docs = [source("a"), source("poison"), source("b"), source("c"), source("d")]
    report = pipe.ingest(docs, "docs")

    assert report.counts() == {"added": 4, "updated": 0, "unchanged": 0, "failed": 1}
    [failure] = report.failures
    assert failure.doc_id == "poison" and "simulated embedder crash" in (failure.reason or "")
    assert sorted({p.chunk.doc_id for p in index.points("docs").values()}) == ["a", "b", "c", "d"]
    # The retry of a ran on this thread, alone; the other groups on the embedding thread.
    assert journal.thread("embedded a") == threading.current_thread().name
    assert journal.thread("embedded b+c").startswith("ingest-embed")
    assert not embedding_threads()


def test_progress_counts_each_chunk_once_when_a_group_fails_after_its_embedding() -> None:
    journal = Journal()
    index = journaled_index(journal)
    settings = Settings(ingest={"parse_isolation": False})
    pipe = IngestPipeline(GatedEmbedder(journal), FakeSparse(journal), index, settings, flush_chunks=2)
    embedded: list[int] = []
    # badsparse's group is embedded (2 chunks heard of), then fails writing: both documents are
    # embedded again, alone, and the bar must not count those chunks twice.
    docs = [source("a"), source("badsparse"), source("b"), source("c"), source("d")]
    report = pipe.ingest(docs, "docs", on_embedded=embedded.append)

    assert report.counts()["failed"] == 1 and report.failures[0].doc_id == "badsparse"
    assert sorted({p.chunk.doc_id for p in index.points("docs").values()}) == ["a", "b", "c", "d"]
    assert sum(embedded) == len(docs)  # one per chunk: the bar's total, not past it
    assert not embedding_threads()


def test_an_error_on_the_calling_thread_leaves_no_embedding_thread_behind() -> None:
    journal = Journal()
    index = journaled_index(journal)

    def on_result(result: Any) -> None:
        raise KeyError("a hook that breaks")

    with pytest.raises(KeyError):
        pipeline(GatedEmbedder(journal), index, journal).ingest(
            [source("a"), source("b"), source("c")], "docs", on_result=on_result)
    assert not embedding_threads()


def test_an_interrupt_stops_the_running_embedding_at_its_next_slice() -> None:
    """A time limit or Ctrl-C on the calling thread while a big document embeds: the embedding gives
    up after the slice it is in, instead of finishing the document first, and nothing is written."""
    journal = Journal()
    first_slice = threading.Event()
    slices: list[int] = []

    class SlowEmbedder(GatedEmbedder):
        def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            slices.append(len(texts))
            first_slice.set()
            threading.Event().wait(0.2)  # long enough for the interrupt to land meanwhile
            return super().embed_documents(texts)

    def sources() -> Iterator[SourceDocument]:
        yield source("big", words=4 * EMBED_SLICE * 32)  # chunks of ~32 words: about four slices
        assert first_slice.wait(WAIT_S)
        raise KeyboardInterrupt

    index = journaled_index(journal)
    settings = Settings(ingest={"parse_isolation": False}, chunking={"chunk_size": 16, "chunk_overlap": 0})
    pipe = IngestPipeline(SlowEmbedder(journal), FakeSparse(journal), index, settings, flush_chunks=1)
    with pytest.raises(KeyboardInterrupt):
        pipe.ingest(sources(), "docs")
    assert len(slices) == 1  # of about four
    assert index.points("docs") == {} and not embedding_threads()
