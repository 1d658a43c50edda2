"""The OpenAI-compatible RAG endpoint: `POST /v1/chat/completions` (model = a collection) and `GET /v1/models`.

Official SDKs and chat UIs work unchanged; the citations ride in an extension field
(``citations`` on the completion, and on the last stream chunk), with ragqa's flags in ``ragqa``.

    client = OpenAI(base_url="http://localhost:8000/v1", api_key="<key or anything>")
    completion = client.chat.completions.create(model="docs", messages=[{"role": "user", "content": "..."}])
    completion.citations   # pydantic extra field of the SDK's model
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.answers import Delta, Done, Question, StreamEvent, split_chat
from api.deps import services_of
from api.errors import error_body
from api.openai_schemas import ChatCompletionRequest, ChatCompletionResponse, ModelList, extension
from api.routes import errors
from core.errors import RagqaError

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["openai-compatible"])
REPLACED_NOTE = "The answer above was not supported by the documents. From the documents"


def completion(payload: dict[str, Any], collection: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{payload['answer_id']}", "object": "chat.completion", "created": int(time.time()),
        "model": collection,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": payload["text"]},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": payload["usage"], "citations": payload["citations"], "ragqa": extension(payload),
    }  # fmt: skip


async def chunks(events: AsyncIterator[StreamEvent], collection: str) -> AsyncIterator[ServerSentEvent]:
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": collection}  # fmt: skip
    first = True
    streamed: list[str] = []
    try:
        async for event in events:
            if isinstance(event, Delta):
                delta = {"role": "assistant", "content": event.text} if first else {"content": event.text}
                first = False
                streamed.append(event.text)
                choice = {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}
                yield ServerSentEvent(json.dumps({**base, "choices": [choice]}))
            elif isinstance(event, Done):
                p = event.payload
                if p["text"].strip() != "".join(streamed).strip():
                    # The self-check replaced what streamed; clients that show only `content` (most
                    # chat UIs) must see the replacement, not keep the rejected text unannounced.
                    note = {"content": f"\n\n---\n{REPLACED_NOTE}: {p['text']}"}
                    choice = {"index": 0, "delta": note, "finish_reason": None, "logprobs": None}
                    yield ServerSentEvent(json.dumps({**base, "choices": [choice]}))
                choice = {"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}
                yield ServerSentEvent(json.dumps({**base, "choices": [choice], "usage": p["usage"],
                                                  "citations": p["citations"], "ragqa": extension(p)}))
    except RagqaError as exc:
        yield ServerSentEvent(json.dumps(error_body(exc.code, exc.message)), event="error")
    except Exception:  # the status line is gone: report in-band, never a traceback
        log.exception("api.openai_stream_failed")
        yield ServerSentEvent(json.dumps(error_body("internal_error", "internal server error")), event="error")
    yield ServerSentEvent("[DONE]")


@router.post("/chat/completions", response_model=ChatCompletionResponse,
             responses=errors(400, 401, 404, 413, 422, 429, 503, 504),
             summary="OpenAI-compatible chat completion answered from the collection named by `model`")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
    services = services_of(request)
    text, history = split_chat([(m.role, m.text()) for m in body.messages])
    question = Question(text, body.model, body.filters, body.top_k, history)
    if body.stream:
        events = await services.answers.stream(question)
        return EventSourceResponse(chunks(events, body.model), ping=15)
    return JSONResponse(completion(await services.answers.ask(question), body.model))


@router.get("/models", response_model=ModelList, responses=errors(401, 429, 503),
            summary="The collections, as OpenAI models")
async def models(request: Request) -> Any:
    names = await services_of(request).documents.names()
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "ragqa"}
                                       for n in names]}  # fmt: skip
