"""Wire models of the OpenAI-compatible endpoint (`/v1/chat/completions`, `/v1/models`).

Only what chat UIs and SDKs send is read; unknown fields (``temperature``, ``n``, ``user``,
``stream_options``...) are accepted and ignored, since the answer's settings are the server's.
Message content may be a string or a list of ``{"type": "text", "text": ...}`` parts.

    >>> OpenAIMessage(role="user", content=[{"type": "text", "text": "Hi"}]).text()
    'Hi'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import COLLECTION_PATTERN, CitationOut, ClaimOut, Filters, UsageOut


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


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"model": "docs", "messages": [
            {"role": "user", "content": "When was Abraham Lincoln born?"}], "stream": False}]},
    )  # fmt: skip

    model: str = Field(pattern=COLLECTION_PATTERN, description="The collection to answer from (see /v1/models).")
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    filters: Filters | None = Field(default=None, description="ragqa extension: restrict the passages.")
    top_k: int | None = Field(default=None, ge=1, le=50, description="ragqa extension: passages given to the model.")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class RagqaExtension(BaseModel):
    """ragqa's own facts about the answer, beside the OpenAI fields."""

    answer_id: str
    refused: bool
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
    usage: UsageOut
    citations: list[CitationOut] = Field(description="Extension: the sources the `[n]` markers refer to, each with "
                                         "the exact sentence (`quote`) that supports the answer.")
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
    return {"answer_id": payload["answer_id"], "refused": payload["refused"], "degraded": payload["degraded"],
            "cached": payload["cached"], "prompt_version": payload["prompt_version"], "llm": payload["model"],
            "timings_ms": payload["timings_ms"], "mode": payload["mode"], "grounded": payload["grounded"],
            "claims": payload["claims"]}  # fmt: skip
