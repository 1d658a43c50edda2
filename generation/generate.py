"""Generation, the answer path's middle stage: one streamed path from the chat model to the answer.

The model's deltas pass the repetition guard (a loop is cut, not paid for), the output filter
(links, addresses and code no source holds are taken out) and the citation filter (markers
naming no source are dropped) as they come; then the composer validates the whole (claims aligned
to source sentences) and, in ``auto``, reviews it. A non-streamed answer is this stream,
collected: the two can never differ.

    for event in Generator(chat_model, composer).stream(prepared):
        ...  # AnswerDelta(text) events, then one AnswerDone(answer)
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from core.errors import LLMTimeout, LLMUnavailable
from core.protocols import ChatModel
from core.types import TokenUsage
from generation.answers import AnswerDelta, AnswerDone, AnswerEvent
from generation.chat import estimate_usage
from generation.composer import AnswerComposer, Prepared
from generation.guardrails.citations import CitationStreamFilter, validate_citations
from generation.guardrails.output import OutputStreamFilter
from generation.repetition import RepetitionGuard


class Generator:
    """Streams a generated answer for a ``Prepared`` question, and hands it to the composer."""

    def __init__(self, chat_model: ChatModel, composer: AnswerComposer) -> None:
        self.chat_model = chat_model
        self.composer = composer

    def stream(self, prep: Prepared, shown: bool = True) -> Iterator[AnswerEvent]:
        """Deltas, then the validated answer. ``shown``: the deltas reach a reader as they come, so a
        model failing mid-answer raises (a fallback would contradict what was shown); when they are
        only collected, it falls back like a failure before the first token."""
        compose = self.composer
        citations = CitationStreamFilter(len(prep.chunks))
        # Links, addresses and code no source holds go before citations are checked, so the streamed
        # text and the final one are the same.
        screen = OutputStreamFilter(compose.sources_of(prep))
        guard = RepetitionGuard()
        degenerate = False
        started = time.perf_counter()
        stream = self.chat_model.stream(prep.messages, prep.plan.max_tokens, options=prep.plan.options)
        first = True
        try:
            with prep.timer.stage("generate"):
                for delta in stream:
                    if first:
                        first = False
                        prep.extra["first_token"] = round((time.perf_counter() - started) * 1000, 3)
                    if guard.feed(delta):
                        degenerate = True  # stop paying for a loop; the rest is trimmed below
                        break
                    text = citations.feed(screen.feed(delta))
                    if text:
                        yield AnswerDelta(text)
        except (LLMUnavailable, LLMTimeout) as exc:
            if shown and not first:
                raise  # part of an answer was shown: a fallback would contradict it
            fallback = compose.fallback(prep, exc)
            yield AnswerDelta(fallback.text)
            yield AnswerDone(fallback)
            return
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        started = time.perf_counter()
        tail = citations.feed(screen.flush()) + citations.flush()
        compose.note_unsourced(prep, screen.removed)
        if tail and not degenerate:
            yield AnswerDelta(tail)
        degenerate = degenerate or guard.finish()
        usage = getattr(stream, "usage", None)
        if not isinstance(usage, TokenUsage):
            usage = estimate_usage(prep.messages, citations.check.text, self.chat_model.count_tokens)
        check = citations.check
        if degenerate:
            check = validate_citations(guard.trim(check.text), len(prep.chunks))
        answer = compose.finish(prep, check, usage, started, degenerate)
        yield AnswerDone(compose.review(prep, answer, degenerate))
