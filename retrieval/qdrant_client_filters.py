"""``SearchFilters`` and document lookups as qdrant-client filters.

Every set field restricts (``must``), except ``tags_any`` which needs one of its pairs (``should``);
``retrieval.edge_filters`` gives Qdrant Edge the same semantics.

    >>> flt = to_qdrant_filter(SearchFilters(doc_ids=("a.txt",), tags_any=(("team", "legal"),)))
    >>> [c.key for c in flt.must], [c.key for c in flt.should]
    (['doc_id'], ['tag_pairs'])
    >>> print(to_qdrant_filter(SearchFilters()))
    None
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_client import models

from core.types import SearchFilters


def match(key: str, value: str | int) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def to_qdrant_filter(filters: SearchFilters | None, doc_id: str | None = None) -> models.Filter | None:
    """The filter for ``filters`` (and one document, when ``doc_id`` is given); None if empty."""
    must: list[models.Condition] = []
    should: list[models.Condition] = []
    if doc_id is not None:
        must.append(match("doc_id", doc_id))
    if filters is not None:
        if filters.doc_ids:
            must.append(models.FieldCondition(key="doc_id", match=models.MatchAny(any=list(filters.doc_ids))))
        if filters.source_prefix:
            # A true prefix match. (MatchText tokenizes: "/docs/gu" found nothing and "/docs/guide"
            # also matched "/x/guide/docs/a.txt".)
            must.append(models.FieldCondition(key="source", match=models.MatchPrefix(prefix=filters.source_prefix)))
        # `tag_pairs` is a list; a value condition holds when any element equals the pair.
        must.extend(match("tag_pairs", f"{key}={value}") for key, value in filters.tags_all)
        if filters.tags_any:
            pairs = [f"{k}={v}" for k, v in filters.tags_any]
            should.append(models.FieldCondition(key="tag_pairs", match=models.MatchAny(any=pairs)))
        if filters.readers is not None:  # the caller's access, inside the query: never filtered after it
            must.append(models.FieldCondition(key="acl", match=models.MatchAny(any=list(filters.readers))))
        if filters.ingested_after or filters.ingested_before:
            must.append(models.FieldCondition(key="ingested_ts", range=models.Range(
                gte=filters.ingested_after.timestamp() if filters.ingested_after else None,
                lte=filters.ingested_before.timestamp() if filters.ingested_before else None,
            )))
    if not must and not should:
        return None
    return models.Filter(must=must or None, should=should or None)


def document_filter(doc_id: str, *extra: models.Condition, keep_ids: Sequence[str] = ()) -> models.Filter:
    """One document's points, narrowed by ``extra`` conditions and minus the ``keep_ids`` points."""
    must_not: list[models.Condition] | None = [models.HasIdCondition(has_id=list(keep_ids))] if keep_ids else None
    return models.Filter(must=[match("doc_id", doc_id), *extra], must_not=must_not)


def ordinals_filter(doc_id: str, ordinals: Sequence[int]) -> models.Filter:
    return document_filter(doc_id, models.FieldCondition(key="ordinal", match=models.MatchAny(any=list(ordinals))))
