"""``SearchFilters`` as Qdrant Edge filters, and the payload indexes that make them fast.

The semantics are those of ``retrieval.qdrant_client_filters.to_qdrant_filter``: every set field
restricts (``must``), except ``tags_any`` which needs one of its pairs (``should``).

    >>> edge = to_edge_filter(SearchFilters(doc_ids=("a.txt", "b.txt"), tags_any=(("team", "legal"),)))
    >>> [(c.key, c.match) for c in edge.must], [(c.key, c.match) for c in edge.should]
    ([('doc_id', MatchAny(value=["a.txt", "b.txt"]))], [('tag_pairs', MatchAny(value=["team=legal"]))])
    >>> print(to_edge_filter(SearchFilters()))
    None
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from qdrant_edge import (
    FieldCondition,
    Filter,
    HasIdCondition,
    KeywordIndexParams,
    MatchAny,
    MatchPrefix,
    MatchValue,
    PayloadSchemaType,
    RangeFloat,
)

from core.types import SearchFilters
from retrieval.index import KEYWORD_FIELDS

if TYPE_CHECKING:
    from qdrant_edge import ConditionType, PointId

# Every field a filter or a point lookup touches. `source` gets a prefix-enabled keyword index so
# `source_prefix` is served from the index, not by reading payloads.
FIELD_INDEXES: tuple[tuple[str, PayloadSchemaType | KeywordIndexParams], ...] = (
    *((name, PayloadSchemaType.Keyword) for name in KEYWORD_FIELDS if name != "source"),
    ("source", KeywordIndexParams(prefix=True)),
    ("ingested_ts", PayloadSchemaType.Float),
    ("ordinal", PayloadSchemaType.Integer),
)


def match(key: str, value: str | int) -> FieldCondition:
    return FieldCondition(key=key, match=MatchValue(value))


def to_edge_filter(filters: SearchFilters | None, doc_id: str | None = None) -> Filter | None:
    """The Edge filter for ``filters`` (and one document, when ``doc_id`` is given); None if empty."""
    must: list[ConditionType] = []
    should: list[ConditionType] = []
    if doc_id is not None:
        must.append(match("doc_id", doc_id))
    if filters is not None:
        if filters.doc_ids:
            must.append(FieldCondition(key="doc_id", match=MatchAny(list(filters.doc_ids))))
        if filters.source_prefix:
            # A true prefix match (byte-wise, case-sensitive), served by the prefix keyword index.
            must.append(FieldCondition(key="source", match=MatchPrefix(filters.source_prefix)))
        # `tag_pairs` is a list; a value condition holds when any element equals the pair.
        must.extend(match("tag_pairs", f"{key}={value}") for key, value in filters.tags_all)
        if filters.tags_any:
            pairs = [f"{k}={v}" for k, v in filters.tags_any]
            should.append(FieldCondition(key="tag_pairs", match=MatchAny(pairs)))
        if filters.readers is not None:  # the caller's access, inside the query: never filtered after it
            must.append(FieldCondition(key="acl", match=MatchAny(list(filters.readers))))
        if filters.ingested_after or filters.ingested_before:
            must.append(FieldCondition(key="ingested_ts", range=RangeFloat(
                gte=filters.ingested_after.timestamp() if filters.ingested_after else None,
                lte=filters.ingested_before.timestamp() if filters.ingested_before else None,
            )))
    if not must and not should:
        return None
    return Filter(must=must or None, should=should or None)


def document_filter(doc_id: str, *extra: FieldCondition, keep_ids: Sequence[str] = ()) -> Filter:
    """One document's points, narrowed by ``extra`` conditions and minus the ``keep_ids`` points."""
    must: list[ConditionType] = [match("doc_id", doc_id), *extra]
    must_not: list[ConditionType] | None = None
    if keep_ids:
        ids: set[PointId] = set(keep_ids)
        must_not = [HasIdCondition(ids)]
    return Filter(must=must, must_not=must_not)


def ordinals_filter(doc_id: str, ordinals: Sequence[int]) -> Filter:
    return document_filter(doc_id, FieldCondition(key="ordinal", match=MatchAny(list(ordinals))))
