"""The audit trail's entries for the API's routes (``state.audit``): who asked, uploaded, deleted.

An ask is recorded when its answer is known, with the documents it cited (read from the answer's
JSON without parsing it: a cache hit goes out as stored bytes), or with the error that ended it.

    >>> cited_doc_ids(b'{"citations":[{"doc_id":"a.pdf"},{"doc_id":"b \\\\"x\\\\".md"},{"doc_id":"a.pdf"}]}')
    ['a.pdf', 'b "x".md']
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from api.answers import AnswerStream, Done, StreamEvent
from core.access import Principal
from core.errors import RagqaError
from state.audit import AuditLog

_DOC_ID = re.compile(rb'"doc_id":\s*("(?:[^"\\]|\\.)*")')


def cited_doc_ids(payload: bytes) -> list[str]:
    """The doc_ids an answer's JSON names, first seen first."""
    seen: dict[str, None] = {}
    for match in _DOC_ID.finditer(payload):
        seen.setdefault(str(json.loads(match.group(1))), None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class AskAudit:
    """One question's entry, written once its end is known."""

    log: AuditLog
    principal: Principal
    action: str  # "ask", "chat", "completion"
    route: str
    collection: str
    question: str

    def answered(self, payload: bytes | dict[str, Any]) -> None:
        """The answer went out: as its JSON bytes, or as the payload itself. Written in the
        background (``AuditLog.submit``): a cache hit does not wait for a second Redis call."""
        doc_ids = (cited_doc_ids(payload) if isinstance(payload, bytes)
                   else list(dict.fromkeys(str(c["doc_id"]) for c in payload.get("citations") or ())))
        self.log.submit(self.principal, self.action, self.route, collection=self.collection,
                        doc_ids=doc_ids, status=200, question=self.question)

    def failed(self, exc: RagqaError) -> None:
        self.log.submit(self.principal, self.action, self.route, collection=self.collection,
                        status=exc.code, question=self.question)

    def stream(self, stream: AnswerStream) -> AnswerStream:
        """The stream, its events unchanged; its entry written at the done frame (or the error)."""
        return AnswerStream(stream.answer_id, self._relay(stream.events))

    async def _relay(self, events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        try:
            async for event in events:
                if isinstance(event, Done):
                    self.answered(event.payload)
                yield event
        except RagqaError as exc:
            self.failed(exc)
            raise
