"""The prompt's token budget: fit the sources into the context window, dropping the
lowest-ranked first; the question is never cut.

    >>> from generation.prompts import PromptSource, load_prompt
    >>> sources = [PromptSource(i, f"T{i}", "word " * 300) for i in (1, 2, 3)]
    >>> fitted = fit_prompt(load_prompt("rag-v1"), "Why?", sources, len, 2600, 100)
    >>> [s.number for s in fitted.sources], fitted.dropped
    ([1], 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import InvalidRequest
from core.types import ChatMessage
from generation.prompts import PromptSource, PromptTemplate
from generation.tokens import TokenCounter, count_message_tokens


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    """Messages that fit, the sources they hold (numbered 1..n in rank order), and the count.

    Example::

        fitted = fit_prompt(template, question, sources, model.count_tokens, 2048, 256)
        text, usage = model.complete(fitted.messages)
    """

    messages: list[ChatMessage]
    sources: list[PromptSource]
    prompt_tokens: int
    dropped: int


def fit_prompt(
    template: PromptTemplate,
    question: str,
    sources: Sequence[PromptSource],
    count: TokenCounter,
    context_window: int,
    max_tokens: int,
) -> FittedPrompt:
    """Render with as many top-ranked sources as fit in ``context_window - max_tokens``.

    ``sources`` must be in rank order, best first. Raises ``InvalidRequest`` when the question
    alone does not fit: cutting it would change what is asked.
    """
    budget = context_window - max_tokens
    ranked = list(sources)
    # Sources are cheap to count one by one, and the prompt's fixed part once: the total is
    # then known for every prefix without re-rendering (one render checks the final fit).
    empty = template.render_messages(question, [])
    fixed = count_message_tokens(empty, count)
    if fixed > budget:
        raise InvalidRequest(
            f"the question needs about {fixed} prompt tokens, more than the {budget} the model's "
            f"context window leaves after {max_tokens} for the answer"
        )
    costs = [count(_source_block(s)) for s in ranked]
    keep = 0
    total = fixed
    while keep < len(ranked) and total + costs[keep] <= budget:
        total += costs[keep]
        keep += 1
    while True:
        kept = [_renumber(s, i + 1) for i, s in enumerate(ranked[:keep])]
        messages = template.render_messages(question, kept)
        tokens = count_message_tokens(messages, count)
        # Templates may wrap each source in a few tokens more than our per-source estimate.
        if tokens <= budget or keep == 0:
            return FittedPrompt(messages, kept, tokens, len(ranked) - keep)
        keep -= 1


def _source_block(source: PromptSource) -> str:
    return f"[{source.number}] {source.title}\n{source.text}\n\n"


def _renumber(source: PromptSource, number: int) -> PromptSource:
    if source.number == number:
        return source
    return PromptSource(number, source.title, source.text, source.quoted)
