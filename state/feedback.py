"""Feedback on answers, kept durably in a Redis stream; what it does at once; its export as JSONL.

A down-vote evicts the answer from the cache at once (``AnswerCache.evict``: the answer record
names its cache entry), so the next person who asks gets a fresh answer. A vote on an answer made in a
live experiment counts for its arm (the record's ``experiment``: ``state.experiments``). Each entry carries the
answer as it was served (question, text, citations), so the export stands alone:

- ``eval``: rows ``ragqa eval answers --dataset`` reads (``generation.eval_rows``): ``question``,
  ``collection``, ``answers`` (gold: an up-voted answer's text, or a correction), ``doc_id``,
  ``expect_refusal``, ``known_wrong`` (a down-voted answer) and ``recheck``, with the ``sources``
  the answer cited (doc, chunk, span, quote);
- ``chat``: fine-tuning rows (``messages``, up-rated only) whose user turn lists the cited sources,
  so the answer's ``[n]`` point at something;
- ``golden``: confirmed answers (up-voted) with the evidence they showed, for the golden set
  (``generation.golden``; ``ragqa golden update`` merges them into its file).

    {prefix}feedback   stream   feedback_id -> {answer_id, rating, comment, correction, created_at,
                                                cache_key, evicted, answer (JSON)}

(The key is ``state.keys.Keyspace.feedback``; ``cache_key`` is the answer's cache fingerprint,
empty when it was not cached.)

    >>> row = to_chat_row({"rating": "up", "answer": {"question": "Q?", "text": "A [1].",
    ...                    "citations": [{"number": 1, "doc_id": "a.md", "title": "A", "snippet": "A is so."}]}})
    >>> row["messages"][0]["content"]
    'Sources:\\n[1] A (a.md): A is so.\\n\\nQuestion: Q?'
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import NotFound, StoreUnavailable
from state.answer_cache import AnswerCache
from state.erasure import ERASED
from state.experiments import ExperimentBook
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.streams import stream_entries
from state.topology import SyncRedis

ExportFormat = Literal["eval", "chat", "golden"]


@dataclass(frozen=True, slots=True)
class Recorded:
    feedback_id: str
    cache_evicted: bool  # a down-vote took the answer out of the cache


class FeedbackStore:
    """Records ratings of served answers (unknown or expired ``answer_id`` -> NotFound); a down-vote
    evicts the answer from the cache before it is recorded.

    Example::

        recorded = await store.record("5f0c...", "down", "wrong year", correction="1809")
        recorded.cache_evicted   # True: the next identical question is answered afresh
    """

    def __init__(self, guarded: GuardedRedis, cache: AnswerCache, prefix: str,
                 experiments: ExperimentBook | None = None) -> None:
        self.guarded = guarded
        self.cache = cache
        self.key = Keyspace(prefix).feedback
        self.experiments = experiments

    async def record(self, answer_id: str, rating: str, comment: str | None,
                     correction: str | None = None) -> Recorded:
        answer = await self.cache.answer_record(answer_id)
        if answer is None:
            raise NotFound(f"answer {answer_id!r} is unknown or too old to rate")
        cache = answer.pop("cache", None)  # where it is cached; the row keeps the answer as served
        evicted = rating == "down" and await self.cache.evict(answer_id, cache, "down_vote")
        fields = {"answer_id": answer_id, "rating": rating, "comment": comment or "", "correction": correction or "",
                  "created_at": f"{time.time():.3f}", "cache_key": (cache or {}).get("fingerprint") or "",
                  "evicted": "1" if evicted else "0", "answer": json.dumps(answer, separators=(",", ":"))}  # fmt: skip
        entry_id = await self.guarded.call("feedback_add", lambda: self.guarded.client.xadd(self.key, fields))  # type: ignore[arg-type]
        if self.experiments is not None:
            # The row is kept: a count lost to an outage is recorded by the guard, the vote still stands.
            with contextlib.suppress(StoreUnavailable):
                await self.experiments.count(answer.get("experiment"), rating)
        return Recorded(entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id), evicted)


def iter_feedback(client: SyncRedis, prefix: str, page: int = 500) -> Iterator[dict[str, Any]]:
    """Every feedback entry, oldest first (a synchronous client: the CLI's); Redis failing -> StoreUnavailable."""
    for entry_id, fields in stream_entries(client, Keyspace(prefix).feedback, "feedback", page=page):
        yield {"feedback_id": entry_id, "answer_id": fields["answer_id"], "rating": fields["rating"],
               "comment": fields.get("comment") or None, "correction": fields.get("correction") or None,
               "created_at": float(fields["created_at"]), "cache_key": fields.get("cache_key") or None,
               "evicted": fields.get("evicted") == "1", "answer": json.loads(fields["answer"])}  # fmt: skip


def cited_sources(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The sources the answer cited, as it showed them: number, doc, chunk, passage span, quote."""
    keep = ("number", "doc_id", "chunk_id", "title", "source", "start", "end", "page", "snippet", "quote")
    return [{k: c.get(k) for k in keep if k in c} for c in answer.get("citations") or ()]


def _text(answer: dict[str, Any]) -> str:
    """The answer's text, or "" once erased (a deleted document's words are gone: no gold, no known-wrong)."""
    text = answer.get("text") or ""
    return "" if text == ERASED else text


def to_eval_row(entry: dict[str, Any]) -> dict[str, Any]:
    """An eval question. Gold: a correction, else an up-rated answer's text; an up-rated refusal expects
    refusal. A down-rated answer is a known-wrong answer, and its question a case to re-check."""
    answer = entry["answer"]
    up, down = entry["rating"] == "up", entry["rating"] == "down"
    refused = bool(answer.get("refused"))
    text, correction = _text(answer), entry.get("correction")
    citations = answer.get("citations") or []
    gold = [correction] if correction else [text] if up and text and not refused else []
    return {
        "question": answer.get("question", ""), "collection": answer.get("collection"),
        "answers": gold,
        "doc_id": citations[0]["doc_id"] if up and not refused and not correction and citations else None,
        "expect_refusal": up and refused and not correction,
        "known_wrong": [text] if down and text else [], "recheck": down,
        "sources": cited_sources(answer),
        "rating": entry["rating"], "comment": entry.get("comment"), "correction": correction, "answer": text,
        "contexts": [c.get("snippet", "") for c in citations],
        "answer_id": entry["answer_id"], "prompt_version": answer.get("prompt_version"),
        "model": answer.get("model"), "mode": answer.get("mode"), "experiment": answer.get("experiment"),
        "created_at": entry.get("created_at"),
    }  # fmt: skip


def to_chat_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A chat-format fine-tuning example (OpenAI / TRL ``messages``): the user turn gives the cited
    sources by their numbers, then the question; ``sources`` holds them in full."""
    answer = entry["answer"]
    sources = cited_sources(answer)
    listed = "\n".join(f"[{s.get('number')}] {s.get('title') or s.get('doc_id')} ({s.get('doc_id')}): "
                       f"{s.get('snippet') or (s.get('quote') or {}).get('text', '')}" for s in sources)
    question = answer.get("question", "")
    prompt = f"Sources:\n{listed}\n\nQuestion: {question}" if sources else question
    return {"messages": [{"role": "user", "content": prompt},
                         {"role": "assistant", "content": answer.get("text", "")}],
            "sources": sources, "rating": entry["rating"]}  # fmt: skip


def to_golden_row(entry: dict[str, Any]) -> dict[str, Any] | None:
    """A confirmed answer for the golden set (``generation.golden.GoldenCase``'s fields, less the
    corpus): what was asked, whether it was answered, and the sentences it showed, in its order.
    None when the row is not an up-vote or the answer's text was erased."""
    answer = entry["answer"]
    if entry["rating"] != "up" or not _text(answer):
        return None
    doc_of = {c.get("number"): c.get("doc_id") for c in answer.get("citations") or ()}
    quotes = [c.get("quote") for c in answer.get("claims") or ()]
    quotes += [c.get("quote") for c in answer.get("citations") or ()]
    evidence: list[dict[str, str]] = []
    for quote in quotes:
        if quote and doc_of.get(quote.get("number")):
            item = {"doc_id": str(doc_of[quote["number"]]), "text": str(quote.get("text", ""))}
            if item not in evidence:
                evidence.append(item)
    return {
        "question": answer.get("question", ""), "collection": answer.get("collection") or "",
        "expect": "refusal" if answer.get("refused") else "answer", "evidence": evidence,
        "answer": answer.get("text", ""), "answer_id": entry["answer_id"], "mode": answer.get("mode") or "",
        "prompt_version": answer.get("prompt_version") or "", "confirmed_at": entry.get("created_at") or 0.0,
    }  # fmt: skip


def export_rows(client: SyncRedis, prefix: str, fmt: ExportFormat,
                rating: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows for ``ragqa feedback export``; ``chat`` and ``golden`` keep up-rated answers unless
    ``rating`` says otherwise (``golden`` has rows for up-votes only)."""
    wanted = rating or (None if fmt == "eval" else "up")
    for entry in iter_feedback(client, prefix):
        if wanted is not None and entry["rating"] != wanted:
            continue
        if fmt == "golden":
            row = to_golden_row(entry)
            if row is not None:
                yield row
        else:
            yield to_chat_row(entry) if fmt == "chat" else to_eval_row(entry)
