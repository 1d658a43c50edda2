"""Chat model over any OpenAI-compatible server (vLLM in production, llama.cpp's server in tests).

Errors are translated here: a timeout is ``LLMTimeout``; a refused connection, or 429 / 5xx
once retries are spent, is ``LLMUnavailable``; any other refusal from the server (bad request,
auth, unknown model) is ``LLMError``. Connection errors, 429 and 5xx are retried with
exponential backoff and jitter (honouring ``Retry-After``), by tenacity; timeouts are not
retried, since a second wait of the same length rarely helps and doubles the user's wait. Each
request waits at most until the answer's deadline (``core.deadlines``).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import openai
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from core.deadlines import remaining
from core.errors import LLMError, LLMTimeout, LLMUnavailable
from core.protocols import GenerationOptions
from core.settings import LLMSettings
from core.types import ChatMessage, TokenUsage
from generation.chat import ChatStream, estimate_usage, to_wire_messages
from generation.tokens import TokenCounter, estimate_tokens, load_token_counter

log = structlog.get_logger(__name__)

T = TypeVar("T")
_MAX_RETRY_AFTER_S = 30.0


def _transport_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """Timeout and transport error classes of the HTTP library the SDK runs on.

    The SDK wraps these in ``APITimeoutError`` / ``APIConnectionError``, but older releases let
    them escape unwrapped while a stream is read; the SDK moved from ``httpx`` to ``httpx2``
    (3.x), so both are looked up rather than imported.
    """
    modules = [sys.modules[name] for name in ("httpx", "httpx2") if name in sys.modules]
    timeouts = tuple(m.TimeoutException for m in modules)
    transports = tuple(m.TransportError for m in modules)
    return timeouts, transports


_TIMEOUT_ERRORS, _TRANSPORT_ERRORS = _transport_errors()
_ERRORS: tuple[type[Exception], ...] = (openai.APIError, *_TIMEOUT_ERRORS, *_TRANSPORT_ERRORS)


class OpenAIChatModel:
    """``core.protocols.ChatModel`` over an OpenAI-compatible ``/v1/chat/completions``.

    Example::

        model = OpenAIChatModel(base_url="http://vllm:8000/v1", model="meta-llama/Llama-3.1-8B-Instruct")
        text, usage = model.complete([ChatMessage("user", "Hi")])
        for delta in model.stream([ChatMessage("user", "Hi")]):
            print(delta, end="")
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "EMPTY",
        timeout_s: float = 60.0,
        max_retries: int = 2,
        retry_backoff_s: float = 0.5,
        max_tokens: int = 256,
        temperature: float = 0.1,
        frequency_penalty: float = 0.0,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
        token_counter: TokenCounter | None = None,
        http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # The SDK's own retries are off: ours cover streaming too and log each attempt.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout_s,
            max_retries=0,
            http_client=http_client,
        )
        self._model = model
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_s = retry_backoff_s
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._frequency_penalty = frequency_penalty
        self._seed = seed
        self._extra_body = dict(extra_body or {})
        self._count = token_counter or estimate_tokens
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> OpenAIChatModel:
        if not settings.base_url:
            raise ValueError("OpenAIChatModel needs llm.base_url")
        counter = load_token_counter(settings.tokenizer_path) if settings.tokenizer_path else None
        return cls(
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key.get_secret_value(),
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
            retry_backoff_s=settings.retry_backoff_s,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            frequency_penalty=settings.frequency_penalty,
            seed=settings.seed,
            extra_body=settings.extra_body,
            token_counter=counter,
        )

    @property
    def model_name(self) -> str:
        return self._model

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def close(self) -> None:
        self._client.close()

    def _request(self, messages: Sequence[ChatMessage], max_tokens: int | None,
                 options: GenerationOptions | None = None) -> dict[str, Any]:
        options = options or GenerationOptions()
        request: dict[str, Any] = {
            "model": self._model,
            "messages": to_wire_messages(messages),
            "max_tokens": options.cap(max_tokens or self._max_tokens),
            "temperature": self._temperature if options.temperature is None else options.temperature,
        }
        # Sent only when set: a server that rejects the field is unaffected by the default.
        if options.top_p is not None:
            request["top_p"] = options.top_p
        if options.stop:
            request["stop"] = list(options.stop)
        if self._frequency_penalty:
            request["frequency_penalty"] = self._frequency_penalty
        seed = self._seed if options.seed is None else options.seed
        if seed is not None:
            request["seed"] = seed
        if self._extra_body:
            request["extra_body"] = self._extra_body
        return request

    def _client_now(self) -> openai.OpenAI:
        """The client, its timeout cut to what is left of the answer's deadline."""
        left = remaining(self._timeout_s)
        if left <= 0.05:
            raise LLMTimeout(f"{self._model} at {self._base_url}: no time left before the answer's deadline")
        return self._client if left >= self._timeout_s else self._client.with_options(timeout=left)

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
                 options: GenerationOptions | None = None) -> tuple[str, TokenUsage]:
        request = self._request(messages, max_tokens, options)
        response = self._with_retries(lambda: self._client_now().chat.completions.create(**request))
        if not response.choices:
            raise LLMError(f"{self._model} returned no choices")
        text = response.choices[0].message.content or ""
        if response.usage is not None:
            usage = TokenUsage(response.usage.prompt_tokens, response.usage.completion_tokens)
        else:
            usage = estimate_usage(messages, text, self._count)
        return text, usage

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
               options: GenerationOptions | None = None) -> ChatStream:
        request = self._request(messages, max_tokens, options)
        # vLLM (and llama.cpp's server) send usage in a last, choice-less chunk when asked.
        request["stream_options"] = {"include_usage": True}
        holder: list[ChatStream] = []

        def deltas() -> Iterator[str]:
            # Opening the stream sits inside the generator so nothing is sent until the first
            # next(); retries cover the opening only, since tokens already shown can't be unsent.
            response = self._with_retries(lambda: self._client_now().chat.completions.create(stream=True, **request))
            usage: TokenUsage | None = None
            pieces = 0
            try:
                for chunk in response:
                    if chunk.usage is not None:
                        usage = TokenUsage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.finish_reason:
                            holder[0].finish_reason = choice.finish_reason
                        if choice.delta.content:
                            pieces += 1
                            yield choice.delta.content
            except _ERRORS as exc:
                raise self._translate(exc) from exc
            finally:
                response.close()
            stream = holder[0]
            if usage is None:
                # The server sent no usage (llama.cpp's server ignores `include_usage`): servers
                # stream one token per chunk, and a cut answer used exactly its cap; the prompt's
                # count is our tokenizer's (an estimate without `llm.tokenizer_path`).
                usage = estimate_usage(messages, stream.completion_text, self._count)
                cut = stream.finish_reason == "length"
                usage = TokenUsage(usage.prompt_tokens, request["max_tokens"] if cut else pieces)
            stream.usage = usage

        stream = ChatStream(deltas())
        holder.append(stream)
        return stream

    def _with_retries(self, call: Callable[[], T]) -> T:
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._max_retries + 1),
            wait=lambda state: _retry_delay(state.outcome.exception() if state.outcome else None,
                                            self._backoff_s * 2 ** (state.attempt_number - 1)),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(call)
        except _ERRORS as exc:
            raise self._translate(exc) from exc

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "llm.retry", attempt=state.attempt_number, of=self._max_retries,
            delay_s=round(state.next_action.sleep, 2) if state.next_action else None,
            error=self._translate(exc).code if isinstance(exc, Exception) else None, detail=str(exc)[:200],
        )  # fmt: skip

    def _translate(self, exc: Exception) -> LLMError:
        where = f"{self._model} at {self._base_url}"
        if isinstance(exc, (openai.APITimeoutError, *_TIMEOUT_ERRORS)):
            return LLMTimeout(f"{where} did not answer in time ({self._timeout_s:g} s, or the answer's deadline)")
        if isinstance(exc, (openai.APIConnectionError, *_TRANSPORT_ERRORS)):
            return LLMUnavailable(f"cannot reach {where}: {exc}")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status == 429 or status >= 500:
                return LLMUnavailable(f"{where} answered HTTP {status}: {_brief(exc)}")
            return LLMError(f"{where} refused the request (HTTP {status}): {_brief(exc)}")
        return LLMError(f"{where} failed: {exc}")


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, *_TIMEOUT_ERRORS)):
        return False
    if isinstance(exc, (openai.APIConnectionError, *_TRANSPORT_ERRORS)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def _retry_delay(exc: BaseException | None, backoff_s: float) -> float:
    if isinstance(exc, openai.APIStatusError):
        header = exc.response.headers.get("retry-after")
        try:
            if header is not None:
                return min(max(float(header), 0.0), _MAX_RETRY_AFTER_S)
        except ValueError:
            pass  # an HTTP date: rare from model servers; fall back to our own backoff
    # Jitter spreads the retries of many clients that failed together.
    return backoff_s * (1 + 0.25 * random.random())


def _brief(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body
        return str(message)[:300]
    return str(exc.message)[:300]
