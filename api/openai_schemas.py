"""Wire models of the OpenAI-compatible endpoint (`/v1/chat/completions`, `/v1/models`).

The sampling fields are honoured (``max_tokens`` / ``max_completion_tokens`` only lower the
server's cap, ``temperature``, ``top_p``, ``stop``, ``seed``), ``n`` must be 1, ``user`` only keeps
an end user in one arm of a live experiment (hashed, never stored), and fields we do not know
(``stream_options``, ``tools``...) are ignored, as OpenAI's own API does. An out-of-range value is
a 400 in OpenAI's error shape, naming the field. System (and ``developer``) messages become the
application's instructions in the prompt, below ragqa's rules. Message content may be a string or a
list of ``{"type": "text", "text": ...}`` parts.

    >>> OpenAIMessage(role="user", content=[{"type": "text", "text": "Hi"}]).text()
    'Hi'
    >>> ChatCompletionRequest(model="docs", messages=[{"role": "user", "content": "Hi"}], max_tokens=20,
    ...                       stop="END").generation_options()
    GenerationOptions(max_tokens=20, temperature=None, top_p=None, stop=('END',), seed=None, instructions=None)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import COLLECTION_PATTERN, CitationOut, ClaimOut, Filters, UsageOut
from core.errors import InvalidRequest
from core.protocols import GenerationOptions

MAX_STOP_SEQUENCES = 4  # OpenAI's own limit
MAX_STOP_CHARS = 200


class InvalidParameter(InvalidRequest):
    """A request field with a value the endpoint cannot honour; ``param`` names the field."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def openai_error(exc: InvalidParameter) -> dict[str, Any]:
    """OpenAI's error shape (``message``, ``type``, ``param``, ``code``), which carries ragqa's
    ``code`` and ``message`` too, so either kind of client reads it."""
    return {"error": {"code": exc.code, "message": exc.message, "type": "invalid_request_error", "param": exc.param}}


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = Field(default=None, max_length=20_000)


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[TextPart] | None = Field(default=None)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")


class RagqaRequestOptions(BaseModel):
    """ragqa's own request fields on the OpenAI endpoint (under ``"ragqa"``)."""

    append_references: bool | None = Field(
        default=None, description="Append the sources as numbered references to `content` (for chat UIs that "
        "show only `content`). Unset: the server's `api.openai_append_references`.")  # fmt: skip


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"model": "docs", "messages": [
            {"role": "user", "content": "When was Abraham Lincoln born?"}], "stream": False}]},
    )  # fmt: skip

    model: str = Field(pattern=COLLECTION_PATTERN, description="The collection to answer from (see /v1/models).")
    messages: list[OpenAIMessage] = Field(
        min_length=1, max_length=100,
        description="The last user message is the question, earlier user/assistant turns its history. System "
        "and developer messages are the application's instructions: added to the prompt below ragqa's rules, "
        "which they cannot override.")  # fmt: skip
    stream: bool = False
    max_tokens: int | None = Field(default=None, description="Most tokens to generate; the server's "
                                   "`llm.max_tokens` caps it. An extractive answer keeps the whole sentences "
                                   "that fit (`finish_reason: length` when cut), counted with the embedder's "
                                   "tokenizer (`ragqa.usage_estimated`).")
    max_completion_tokens: int | None = Field(default=None, description="As `max_tokens` (the smaller wins).")
    temperature: float | None = Field(default=None, description="0 to 2; unset: the server's `llm.temperature`.")
    top_p: float | None = Field(default=None, description="0 to 1; unset: the model server's default.")
    stop: str | list[str] | None = Field(default=None, description="Up to 4 sequences that end the answer.")
    seed: int | None = Field(default=None, description="Sampling seed; unset: the server's `llm.seed`.")
    n: int | None = Field(default=None, description="Choices to return: only 1 is supported.")
    user: str | None = Field(default=None, description="Your end user's id: a live experiment (`ragqa "
                             "experiments`) keeps one user in one arm. Only hashed, never stored.")
    filters: Filters | None = Field(default=None, description="ragqa extension: restrict the passages.")
    top_k: int | None = Field(default=None, ge=1, le=50, description="ragqa extension: passages given to the model.")
    ragqa: RagqaRequestOptions | None = Field(default=None, description="ragqa extension: how to shape the reply.")

    def instructions(self) -> str | None:
        """The system and developer messages, in order: the application's own instructions."""
        parts = [m.text().strip() for m in self.messages if m.role in ("system", "developer")]
        return "\n".join(p for p in parts if p) or None

    def generation_options(self) -> GenerationOptions | None:
        """The request's wishes as ``GenerationOptions``, None when it has none (the server's settings
        then apply, and the answer shares the cache with ``/ask``). Raises ``InvalidParameter``."""
        if self.n is not None and self.n != 1:
            raise InvalidParameter("n", f"n={self.n} is not supported: ragqa returns one answer (n=1)")
        caps = [(name, value) for name, value in (("max_tokens", self.max_tokens),
                ("max_completion_tokens", self.max_completion_tokens)) if value is not None]  # fmt: skip
        for name, value in caps:
            if value < 1:
                raise InvalidParameter(name, f"{name} must be at least 1, not {value}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise InvalidParameter("temperature", f"temperature must be between 0 and 2, not {self.temperature}")
        if self.top_p is not None and not 0 <= self.top_p <= 1:
            raise InvalidParameter("top_p", f"top_p must be between 0 and 1, not {self.top_p}")
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if len(stop) > MAX_STOP_SEQUENCES or any(not s or len(s) > MAX_STOP_CHARS for s in stop):
            raise InvalidParameter("stop", f"stop takes up to {MAX_STOP_SEQUENCES} non-empty sequences of at most "
                                   f"{MAX_STOP_CHARS} characters")
        options = GenerationOptions(
            max_tokens=min(v for _, v in caps) if caps else None, temperature=self.temperature, top_p=self.top_p,
            stop=stop, seed=self.seed, instructions=self.instructions())  # fmt: skip
        return options if options != GenerationOptions() else None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = Field(
        default="stop", description="`length` when the token cap (`max_tokens`, or the server's) cut the "
        "generated answer; `stop` otherwise, extractive answers and refusals included.")  # fmt: skip
    logprobs: None = None


class RagqaExtension(BaseModel):
    """ragqa's own facts about the answer, beside the OpenAI fields."""

    answer_id: str
    refused: bool
    usage_estimated: bool = Field(default=False, description="`usage` counted with the embedder's tokenizer: no "
                                  "model wrote this answer (extractive, or a refusal).")
    confidence: Literal["high", "low", "none"] = Field(
        default="high", description="`low`: the closest passage, shown as perhaps not answering; `none`: a refusal.")
    degraded: str | None
    cached: bool
    prompt_version: str
    llm: str = Field(description="The language model that wrote the answer (`extractive:...` for quoted sentences).")
    timings_ms: dict[str, float]
    mode: str = Field(default="generative", description="`extractive`, `generative`, `refusal` or `sources`.")
    grounded: float | None = Field(default=None, description="Share of the answer's sentences a source supports.")
    claims: list[ClaimOut] = Field(default_factory=list, description="Each sentence of the answer, its citations "
                                   "and the exact source sentence (`quote`) that supports it.")


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut = Field(description="Tokens as the model reported them. An extractive answer or a refusal "
                            "called no model: 0 and 0. When the self-check replaced a generation, the "
                            "generation's tokens (they were spent).")  # fmt: skip
    citations: list[CitationOut] = Field(description="Extension: the sources the `[n]` markers refer to, each with "
                                         "the exact sentence (`quote`) that supports the answer. Also on the last "
                                         "stream chunk. With `append_references`, also listed at the end of `content`.")
    ragqa: RagqaExtension


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "ragqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def extension(payload: dict[str, Any]) -> dict[str, Any]:
    return {"answer_id": payload["answer_id"], "refused": payload["refused"],
            "confidence": payload.get("confidence", "none" if payload["refused"] else "high"),
            "usage_estimated": bool(payload.get("usage_estimated")),
            "degraded": payload["degraded"],
            "cached": payload["cached"], "prompt_version": payload["prompt_version"], "llm": payload["model"],
            "timings_ms": payload["timings_ms"], "mode": payload["mode"], "grounded": payload["grounded"],
            "claims": payload["claims"]}  # fmt: skip
