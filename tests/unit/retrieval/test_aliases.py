"""The rules of names over physical collections (``retrieval.aliases``) and of the embedder record
(``retrieval.embedder_guard``), as pure logic; the backends keep them in tests/integration/retrieval."""

from __future__ import annotations

import pytest

from core.errors import CollectionMismatch, InvalidRequest, NotFound
from retrieval.aliases import AliasTable, logical_names, next_physical, on_physical
from retrieval.embedder_guard import check_embedder

RECIPE = "smooth0.8-dynamic-qint8-per-channel-constb-v2"


def test_physical_names_count_up_from_what_exists() -> None:
    assert next_physical("docs", []) == "docs__v1"
    assert next_physical("docs", ["docs", "docs__v2", "docs__v10", "docs-old__v40", "docs__vx"]) == "docs__v11"
    with pytest.raises(InvalidRequest, match="too long"):
        next_physical("d" * 127, [])


def test_callers_see_aliases_and_the_collections_no_alias_points_at() -> None:
    assert logical_names(["docs", "docs__v3", "notes", "orphan__v1"], {"docs": "docs__v3"}) == [
        "docs", "notes", "orphan__v1"]
    assert logical_names(["notes"], {"docs": "docs__v3"}) == ["notes"]  # an alias to nothing is no collection


def test_a_table_with_a_ttl_is_read_again_once_it_is_old() -> None:
    reads: list[dict[str, str]] = [{"docs": "docs__v1"}, {"docs": "docs__v2"}]
    table = AliasTable(lambda: reads.pop(0), ttl_s=0.0)
    assert table.resolve("docs") == "docs__v1"
    assert table.resolve_cached("docs") is None  # expired at once: never answered from memory
    assert table.resolve("docs") == "docs__v2"
    kept = AliasTable(lambda: {"a": "a__v1"}, ttl_s=None)
    assert kept.resolve_cached("a") is None and kept.resolve("a") == "a__v1" and kept.resolve_cached("b") == "b"


class _Index:
    """An index whose aliases another process switched after this one read them."""

    def __init__(self) -> None:
        self.stale, self.fresh = {"docs": "docs__v1"}, {"docs": "docs__v2"}
        self.dropped = {"docs__v1"}
        self.calls: list[str] = []

    def physical_name(self, name: str, fresh: bool = False) -> str:
        return (self.fresh if fresh else self.stale).get(name, name)

    @on_physical
    def count(self, collection: str, extra: int = 0) -> int:
        self.calls.append(collection)
        if collection in self.dropped:
            raise NotFound(collection)
        return 7 + extra


def test_a_name_that_vanished_is_resolved_again_once() -> None:
    index = _Index()
    assert index.count("docs", extra=1) == 8
    assert index.calls == ["docs__v1", "docs__v2"]
    index.fresh = index.stale  # nothing changed: the NotFound is the caller's
    with pytest.raises(NotFound):
        index.count("docs")


def test_the_int8_recipe_is_part_of_the_embedder_record() -> None:
    check_embedder("docs", f"all-MiniLM-L6-v2/onnx-int8/{RECIPE}", f"all-MiniLM-L6-v2/onnx-int8/{RECIPE}")
    # A record from before the recipe joined the identity is that recipe's.
    check_embedder("docs", "all-MiniLM-L6-v2/onnx-int8", f"all-MiniLM-L6-v2/onnx-int8/{RECIPE}")
    with pytest.raises(CollectionMismatch, match=r"int8 recipe .*ragqa collection reindex docs"):
        check_embedder("docs", f"all-MiniLM-L6-v2/onnx-int8/{RECIPE}", "all-MiniLM-L6-v2/onnx-int8/smooth0.9-v3")
    with pytest.raises(CollectionMismatch, match="RAGQA_EMBEDDING__BACKEND=onnx-int8"):
        check_embedder("docs", "all-MiniLM-L6-v2/onnx-int8", "all-MiniLM-L6-v2/sentence-transformers")
