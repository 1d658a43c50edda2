"""The OpenAI-compatible RAG endpoint: `POST /v1/chat/completions` (model = a collection) and `GET /v1/models`.

Official SDKs and chat UIs work unchanged; the citations ride in an extension field
(``citations`` on the completion, and on the last stream chunk), with ragqa's flags in ``ragqa``,
and are listed at the end of ``content`` too unless ``"ragqa": {"append_references": false}`` (or
``api.openai_append_references``) says not. The request's sampling fields and system messages reach
the model (``api.openai_schemas``); ``finish_reason`` is ``length`` when the token cap cut the
answer, a model's or, for an extractive answer, the request's ``max_tokens`` (``fit_extractive``).

    client = OpenAI(base_url="http://localhost:8000/v1", api_key="<key or anything>")
    completion = client.chat.completions.create(model="docs", messages=[{"role": "user", "content": "..."}])
    completion.citations   # pydantic extra field of the SDK's model
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.answer_signals import subject_of
from api.answers import AnswerStream, Delta, Done, Question, replay, split_chat
from api.audited import AskAudit
from api.deps import principal_of, services_of
from api.errors import error_body
from api.openai_schemas import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    InvalidParameter,
    ModelList,
    extension,
    openai_error,
)
from api.routes import errors
from core.errors import RagqaError
from core.sentences import split_sentences
from generation.composer import NO_MODEL

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["openai-compatible"])
_MARKER = re.compile(r"\[(\d{1,3})\]")
REPLACED_NOTE = "The answer above was not supported by the documents. From the documents"


# Modes whose text the model wrote: only these can have been cut by the token cap.
GENERATED_MODES = frozenset({"generative", "refusal"})


def finish_reason(payload: dict[str, Any], cap: int | None) -> str:
    """``length`` when the model wrote the answer and used its whole token budget (a model stops
    for the cap only there: vLLM and llama.cpp report ``length`` exactly then), else ``stop``."""
    cut = cap is not None and payload["mode"] in GENERATED_MODES and payload["usage"]["completion_tokens"] >= cap
    return "length" if cut else "stop"


def references(citations: list[dict[str, Any]]) -> str:
    """The sources as numbered lines for the end of ``content`` (empty when nothing is cited)."""
    lines = []
    for c in citations:
        title = c["title"] or c["doc_id"]
        where = c["source"] or c["doc_id"]
        location = c.get("location") or (f"p. {c['page']}" if c.get("page") is not None else None)
        details = [where] + ([location] if location else [])
        lines.append(f"[{c['number']}] {title} ({', '.join(details)})")
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def fit_extractive(payload: dict[str, Any], max_tokens: int | None,
                   count: Callable[[str], int]) -> tuple[dict[str, Any], bool]:
    """An answer no model wrote (extractive, low confidence, a refusal before generation), held to the
    request's ``max_tokens``: whole sentences while they fit (or the first words that do), with
    ``usage`` counted by ``count`` (the embedder's tokenizer: an estimate, stated as such in the
    ``ragqa`` extension, since no model ran), and whether it was cut. A generated answer is returned
    as it is: the model already stopped at its cap."""
    if payload["usage"]["total_tokens"] or (payload["mode"] in GENERATED_MODES and payload["model"] != NO_MODEL):
        return payload, False  # a model ran (a self-check's replacement keeps the tokens it spent)
    fitted = dict(payload)
    text, cut = payload["text"], False
    if max_tokens is not None and count(text) > max_tokens:
        kept: list[str] = []
        for sentence in split_sentences(text):
            if count(" ".join([*kept, sentence.text])) > max_tokens:
                break
            kept.append(sentence.text)
        if not kept:
            for word in text.split():
                if count(" ".join([*kept, word])) > max_tokens:
                    break
                kept.append(word)
        text, cut = " ".join(kept), True
        numbers = {int(n) for n in _MARKER.findall(text)}
        fitted["text"] = text
        fitted["citations"] = [c for c in payload["citations"] if c["number"] in numbers]
    tokens = count(text)
    fitted["usage"] = {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens}
    fitted["usage_estimated"] = True
    return fitted, cut


def completion(payload: dict[str, Any], collection: str, cap: int | None = None,
               append_references: bool = False, cut: bool = False) -> dict[str, Any]:
    content = payload["text"] + (references(payload["citations"]) if append_references else "")
    return {
        "id": f"chatcmpl-{payload['answer_id']}", "object": "chat.completion", "created": int(time.time()),
        "model": collection,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "length" if cut else finish_reason(payload, cap), "logprobs": None}],
        "usage": payload["usage"], "citations": payload["citations"], "ragqa": extension(payload),
    }  # fmt: skip


async def chunks(events: AnswerStream, collection: str, cap: int | None = None,
                 append_references: bool = False, cut: bool = False) -> AsyncIterator[ServerSentEvent]:
    # The same id as the non-streamed completion's: the answer's own, to send feedback on.
    base = {"id": f"chatcmpl-{events.answer_id}", "object": "chat.completion.chunk", "created": int(time.time()),
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
                refs = references(p["citations"]) if append_references else ""
                if refs:
                    choice = {"index": 0, "delta": {"content": refs}, "finish_reason": None, "logprobs": None}
                    yield ServerSentEvent(json.dumps({**base, "choices": [choice]}))
                reason = "length" if cut else finish_reason(p, cap)
                choice = {"index": 0, "delta": {}, "finish_reason": reason, "logprobs": None}
                yield ServerSentEvent(json.dumps({**base, "choices": [choice], "usage": p["usage"],
                                                  "citations": p["citations"], "ragqa": extension(p)}))
    except RagqaError as exc:
        yield ServerSentEvent(json.dumps(error_body(exc.code, exc.message)), event="error")
    except Exception:  # the status line is gone: report in-band, never a traceback
        log.exception("api.openai_stream_failed")
        yield ServerSentEvent(json.dumps(error_body("internal_error", "internal server error")), event="error")
    yield ServerSentEvent("[DONE]")


@router.post("/chat/completions", response_model=ChatCompletionResponse,
             responses=errors(400, 401, 403, 404, 413, 422, 429, 503, 504),
             summary="OpenAI-compatible chat completion answered from the collection named by `model`")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
    services = services_of(request)
    try:
        options = body.generation_options()
    except InvalidParameter as exc:
        return JSONResponse(openai_error(exc), status_code=400)
    # `user` (the client's end-user id, for OpenAI's abuse monitoring) only keeps the user in one arm of a
    # live experiment (hashed): a personal identifier has no business in our logs.
    text, history = split_chat([(m.role, m.text()) for m in body.messages])
    principal = principal_of(request)
    principal.require("ask", body.model)
    question = Question(text, body.model, body.filters, body.top_k, history, options=options,
                        readers=principal.readers, caller=principal.label,
                        subject=subject_of(principal, body.user, None, request.client.host if request.client else None))
    answers = services.answers
    cap = options.cap(answers.answerer.max_tokens) if options is not None else answers.answerer.max_tokens
    wanted = body.ragqa.append_references if body.ragqa is not None else None
    append = services.settings.api.openai_append_references if wanted is None else wanted
    wanted_tokens = options.max_tokens if options is not None else None
    count = services.components.embedder.count_tokens
    audit = AskAudit(services.audit, principal, "completion", "POST /v1/chat/completions", body.model, text)
    try:
        if body.stream and not (wanted_tokens is not None and answers.answerer.mode == "extractive"):
            events = audit.stream(await answers.stream(question))
            return EventSourceResponse(chunks(events, body.model, cap, append), ping=15)
        answer = await answers.ask(question)
    except RagqaError as exc:
        audit.failed(exc)
        raise
    audit.answered(answer)
    payload, cut = fit_extractive(answer, wanted_tokens, count)
    if body.stream:  # an extractive answer comes whole anyway: streamed as one delta, held to max_tokens
        replayed = AnswerStream(str(payload["answer_id"]), replay(payload))
        return EventSourceResponse(chunks(replayed, body.model, cap, append, cut), ping=15)
    return JSONResponse(completion(payload, body.model, cap, append, cut))


@router.get("/models", response_model=ModelList, responses=errors(401, 429, 503),
            summary="The collections, as OpenAI models")
async def models(request: Request) -> Any:
    principal = principal_of(request)
    principal.require("ask")
    names = [n for n in await services_of(request).documents.names() if principal.may_use(n)]
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "ragqa"}
                                       for n in names]}  # fmt: skip
