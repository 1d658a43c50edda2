"""`POST /ask` and `POST /chat`: JSON, or server-sent events with `"stream": true` / `Accept: text/event-stream`.

Stream frames: ``event: delta`` (``{"text": ...}``) as tokens arrive, then one ``event: done``
carrying the whole `AnswerResponse` (citations, flags, timings); ``event: error`` (the usual
error body) if it fails after the stream began.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.answer_signals import subject_of
from api.answers import Delta, Done, Question, StreamEvent, split_chat
from api.audited import AskAudit
from api.deps import principal_of, services_of
from api.errors import error_body
from api.routes import errors
from api.schemas import AnswerResponse, AskRequest, ChatRequest
from api.services import Services
from core.errors import RagqaError

log = structlog.get_logger(__name__)
router = APIRouter(tags=["answers"])

_STREAM_DOC = {
    "description": "The answer (JSON), or with streaming, server-sent events: `delta` frames, then one `done`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}, "example": (
        'event: delta\ndata: {"text": "Lincoln was born"}\n\nevent: delta\ndata: {"text": " in 1809 [1]."}\n\n'
        'event: done\ndata: {"answer_id": "...", "text": "Lincoln was born in 1809 [1].", "citations": [...]}\n\n'
    )}},
}  # fmt: skip
_ERRORS = errors(400, 401, 403, 404, 413, 422, 429, 503, 504)


def wants_stream(request: Request, flag: bool) -> bool:
    return flag or "text/event-stream" in request.headers.get("accept", "")


async def sse_frames(events: AsyncIterable[StreamEvent]) -> AsyncIterator[ServerSentEvent]:
    try:
        async for event in events:
            if isinstance(event, Delta):
                yield ServerSentEvent(json.dumps({"text": event.text}), event="delta")
            elif isinstance(event, Done):
                yield ServerSentEvent(json.dumps(event.payload), event="done")
    except RagqaError as exc:
        yield ServerSentEvent(json.dumps(error_body(exc.code, exc.message)), event="error")
    except Exception:  # the status line is gone: report in-band, never a traceback
        log.exception("api.stream_failed")
        yield ServerSentEvent(json.dumps(error_body("internal_error", "internal server error")), event="error")


async def respond(services: Services, question: Question, stream: bool, audit: AskAudit) -> Any:
    try:
        if stream:
            events = await services.answers.stream(question)
            return EventSourceResponse(sse_frames(audit.stream(events)), ping=15)
        payload = await services.answers.ask_json(question)
    except RagqaError as exc:
        audit.failed(exc)
        raise
    audit.answered(payload)
    return Response(payload, media_type="application/json")


@router.post("/ask", response_model=AnswerResponse, responses={200: _STREAM_DOC, **_ERRORS},
             summary="Answer a question from a collection, with citations")
async def ask(body: AskRequest, request: Request) -> Any:
    services = services_of(request)
    collection = body.collection or services.settings.ingest.default_collection
    principal = principal_of(request)
    principal.require("ask", collection)
    question = Question(body.question, collection, body.filters, body.top_k, readers=principal.readers,
                        caller=principal.label, subject=subject_of(principal, body.user, None, _address(request)))
    audit = AskAudit(services.audit, principal, "ask", "POST /ask", collection, body.question)
    return await respond(services, question, wants_stream(request, body.stream), audit)


@router.post("/chat", response_model=AnswerResponse, responses={200: _STREAM_DOC, **_ERRORS},
             summary="Answer the last message of a conversation (follow-ups made standalone)")
async def chat(body: ChatRequest, request: Request) -> Any:
    services = services_of(request)
    text, history = split_chat([(m.role, m.content) for m in body.messages])
    collection = body.collection or services.settings.ingest.default_collection
    principal = principal_of(request)
    principal.require("ask", collection)
    question = Question(text, collection, body.filters, body.top_k, history, readers=principal.readers,
                        caller=principal.label,
                        subject=subject_of(principal, body.user, body.conversation_id, _address(request)))
    audit = AskAudit(services.audit, principal, "chat", "POST /chat", collection, text)
    return await respond(services, question, wants_stream(request, body.stream), audit)


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None
