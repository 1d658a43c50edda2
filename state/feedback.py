"""Feedback on answers, kept durably in a Redis stream, and its export as JSONL.

Each entry carries the answer as it was served (question, text, citations), so the export
stands alone: as an eval set (``EvalQuestion``-shaped rows: ``question``, ``answers``,
``doc_id``, ``expect_refusal``) or as chat fine-tuning data (``messages``, up-rated only).

    {prefix}feedback   stream   feedback_id -> {answer_id, rating, comment, created_at, answer (JSON)}

(The key is ``state.keys.Keyspace.feedback``.)

    >>> to_chat_row({"rating": "up", "answer": {"question": "Q?", "text": "A [1]."}})["messages"][1]
    {'role': 'assistant', 'content': 'A [1].'}
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal

import redis

from core.errors import NotFound
from state.answer_cache import AnswerCache
from state.guard import GuardedRedis
from state.keys import Keyspace
from state.streams import stream_entries

ExportFormat = Literal["eval", "chat"]


class FeedbackStore:
    """Records ratings of served answers (unknown or expired ``answer_id`` -> NotFound).

    Example::

        feedback_id = await store.record("5f0c...", "up", "exactly right")
    """

    def __init__(self, guarded: GuardedRedis, cache: AnswerCache, prefix: str) -> None:
        self.guarded = guarded
        self.cache = cache
        self.key = Keyspace(prefix).feedback

    async def record(self, answer_id: str, rating: str, comment: str | None) -> str:
        answer = await self.cache.answer_record(answer_id)
        if answer is None:
            raise NotFound(f"answer {answer_id!r} is unknown or too old to rate")
        fields = {"answer_id": answer_id, "rating": rating, "comment": comment or "",
                  "created_at": f"{time.time():.3f}", "answer": json.dumps(answer, separators=(",", ":"))}
        entry_id = await self.guarded.call("feedback_add", lambda: self.guarded.client.xadd(self.key, fields))  # type: ignore[arg-type]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def iter_feedback(client: redis.Redis, prefix: str, page: int = 500) -> Iterator[dict[str, Any]]:
    """Every feedback entry, oldest first (a synchronous client: the CLI's); Redis failing -> StoreUnavailable."""
    for entry_id, fields in stream_entries(client, Keyspace(prefix).feedback, "feedback", page=page):
        yield {"feedback_id": entry_id, "answer_id": fields["answer_id"], "rating": fields["rating"],
               "comment": fields.get("comment") or None, "created_at": float(fields["created_at"]),
               "answer": json.loads(fields["answer"])}  # fmt: skip


def to_eval_row(entry: dict[str, Any]) -> dict[str, Any]:
    """An eval question: an up-rated answer is a gold answer; an up-rated refusal expects refusal."""
    answer = entry["answer"]
    up = entry["rating"] == "up"
    citations = answer.get("citations") or []
    return {
        "question": answer.get("question", ""),
        "answers": [answer["text"]] if up and not answer.get("refused") else [],
        "doc_id": citations[0]["doc_id"] if up and citations else None,
        "expect_refusal": bool(up and answer.get("refused")),
        "rating": entry["rating"], "comment": entry.get("comment"), "answer": answer.get("text", ""),
        "contexts": [c.get("snippet", "") for c in citations], "collection": answer.get("collection"),
        "answer_id": entry["answer_id"], "prompt_version": answer.get("prompt_version"),
        "model": answer.get("model"), "created_at": entry.get("created_at"),
    }  # fmt: skip


def to_chat_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A chat-format fine-tuning example (OpenAI / TRL ``messages``)."""
    answer = entry["answer"]
    return {"messages": [{"role": "user", "content": answer.get("question", "")},
                         {"role": "assistant", "content": answer.get("text", "")}],
            "rating": entry["rating"]}  # fmt: skip


def export_rows(client: redis.Redis, prefix: str, fmt: ExportFormat,
                rating: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows for ``ragqa feedback export``; ``chat`` keeps up-rated answers unless ``rating`` says otherwise."""
    wanted = rating or ("up" if fmt == "chat" else None)
    for entry in iter_feedback(client, prefix):
        if wanted is not None and entry["rating"] != wanted:
            continue
        yield to_chat_row(entry) if fmt == "chat" else to_eval_row(entry)
