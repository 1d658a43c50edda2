"""What a re-index carries over (``ingest.reindex``), on a real embedded store with the real embedder:
writes that land in the old collection while the new one is built, and a refusal to switch when a
document cannot be rebuilt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.components import Components
from core.errors import IngestError
from core.settings import Settings
from ingest.pipeline import IngestPipeline
from ingest.reindex import reindex_collection
from ingest.report import DocumentResult
from ingest.sources import SourceDocument

NOTES = {"shop.txt": "The corner shop on Elm Street sells blue notebooks and green pens.",
         "tea.txt": "Green tea is steeped for two minutes in water below boiling.",
         "bus.txt": "The night bus leaves the station every forty minutes."}


def upload(name: str, text: str | None = None, **fields: Any) -> SourceDocument:
    return SourceDocument(name, name, f"upload:{name}", data=(text or NOTES[name]).encode(), **fields)


@pytest.fixture
def parts(tmp_path: Path, embedder: Any) -> Iterator[Components]:
    components = Components(Settings(qdrant={"path": tmp_path / "store"}))
    components.__dict__["embedder"] = embedder
    report = components.pipeline.ingest([upload("shop.txt", tags={"team": "a"}, acl=("group:staff",)),
                                         upload("tea.txt")], "docs")
    assert report.counts()["added"] == 2
    yield components
    components.close()


def test_writes_made_during_the_build_are_carried_over(parts: Components) -> None:
    writes: list[str] = []

    def meanwhile(result: DocumentResult) -> None:  # the old collection changes while the new one is built
        if not writes:
            writes.append(result.doc_id)
            parts.pipeline.ingest([upload("bus.txt")], "docs")
            parts.pipeline.delete_document("docs", "tea.txt")

    report = reindex_collection(parts.pipeline, parts.index, "docs", grace_s=0, on_result=meanwhile)
    assert report.switched and report.caught_up == 2, report.to_dict()
    assert sorted(d.doc_id for d in parts.index.list_documents("docs").documents) == ["bus.txt", "shop.txt"]
    shop = parts.index.document_chunks("docs", "shop.txt")  # rebuilt from its stored text: tags, readers kept
    assert shop[0].tags == {"team": "a"} and shop[0].acl == ("group:staff",)
    assert report.from_index and not report.from_files


def test_nothing_switches_when_a_document_cannot_be_rebuilt(parts: Components) -> None:
    strict = parts.settings.model_copy(update={"ingest": parts.settings.ingest.model_copy(
        update={"max_chunks_per_document": 1})})
    long_text = " ".join(f"Sentence number {i} says something about the long note." for i in range(200))
    parts.pipeline.ingest([upload("long.txt", long_text)], "docs")  # fine under the settings it was written with
    before = parts.index.version("docs")
    pipeline = IngestPipeline(parts.embedder, parts.sparse, parts.index, strict)
    with pytest.raises(IngestError, match=r"long\.txt"):
        reindex_collection(pipeline, parts.index, "docs", grace_s=0)
    assert parts.index.list_physical() == ["docs"] and parts.index.aliases() == {}
    assert parts.index.version("docs") == before and parts.index.count("docs") > 3
