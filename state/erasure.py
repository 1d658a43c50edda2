"""Erasure: what Redis keeps of a document once it is deleted from the index.

The index version moves on a delete, so no cached answer is served again; but the answers'
text still sits in Redis (cached answers, the answer records feedback rates, the feedback rows'
copies) and quotes the document. ``erase_document`` removes them: the cached answers and answer
records that cite it (``cite:{collection}:{doc_id}`` lists both), and in each feedback row that
cites it, the answer's text, quotes and snippets (the rating, the question and the doc ids stay,
so the feedback still counts). A synchronous client: the CLI's, or the API's in a worker thread.

    erased = erase_document(client, "ragqa:", "docs", "handbook.pdf")
    erased.to_dict()   # {"cached_answers": 3, "answer_records": 4, "feedback_rows": 1}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import StoreUnavailable
from state.keys import Keyspace
from state.streams import stream_entries, text
from state.topology import REDIS_ERRORS, SyncRedis

ERASED = "[erased: the document was deleted]"


@dataclass(frozen=True, slots=True)
class Erased:
    cached_answers: int = 0
    answer_records: int = 0
    feedback_rows: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def erase_document(client: SyncRedis, prefix: str, collection: str, doc_id: str, page: int = 500) -> Erased:
    """Removes what Redis holds of the document's text (see the module docstring); counts it."""
    keys = Keyspace(prefix)
    cite = keys.citations(collection, doc_id)
    try:
        found: Any = client.smembers(cite)
        members = [text(m) for m in found]
        cached = [m for m in members if m.startswith(keys.cached_answer(""))]
        records = [m for m in members if m.startswith(keys.answer_record(""))]
        # One DEL per key: they lie in many slots of a cluster, and a pipeline may span slots, a DEL may not.
        pipe = client.pipeline(transaction=False)
        for key in (*cached, *records, cite):
            pipe.delete(key)
        deleted = [int(n) for n in pipe.execute()]  # 1 for each key still there (the rest had expired)
        gone = [sum(deleted[:len(cached)]), sum(deleted[len(cached):len(cached) + len(records)])]
        rows = _redact_feedback(client, keys.feedback, collection, doc_id, page)
    except REDIS_ERRORS as exc:
        raise StoreUnavailable(f"could not erase {doc_id!r}'s answers from Redis: {exc}") from exc
    return Erased(gone[0], gone[1], rows)


def _redact_feedback(client: SyncRedis, stream: str, collection: str, doc_id: str, page: int) -> int:
    """Feedback rows citing the document, rewritten without its text: a stream entry cannot be
    edited, so the row is deleted and appended again redacted (its ``created_at`` kept)."""
    redacted = 0
    for entry_id, fields in stream_entries(client, stream, "feedback", page=page):
        answer = json.loads(fields.get("answer") or "{}")
        if answer.get("text") == ERASED or answer.get("collection", collection) != collection or not any(
                c.get("doc_id") == doc_id for c in answer.get("citations") or ()):
            continue
        fields["answer"] = json.dumps(_redacted(answer), separators=(",", ":"))
        pipe = client.pipeline(transaction=True)
        pipe.xdel(stream, entry_id)
        pipe.xadd(stream, fields)  # type: ignore[arg-type]
        pipe.execute()
        redacted += 1
    return redacted


_KEPT = ("answer_id", "question", "collection", "refused", "confidence", "mode", "model", "prompt_version")


def _redacted(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without any text that came from a document: only its question, flags and doc ids."""
    kept: dict[str, Any] = {k: answer[k] for k in _KEPT if k in answer}
    cited = [{"number": c.get("number"), "doc_id": c.get("doc_id")} for c in answer.get("citations") or ()]
    return {**kept, "text": ERASED, "claims": [], "citations": cited}
