"""The token budget: lowest-ranked sources go first; the question is never cut."""

from __future__ import annotations

import pytest

from core.errors import InvalidRequest
from generation.budget import fit_prompt
from generation.prompts import PromptSource, load_prompt
from generation.tokens import count_message_tokens, estimate_tokens


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def count_words(text: str) -> int:
    return len(text.split())


@pytest.fixture
def sources() -> list[PromptSource]:
    return [PromptSource(i, f"Title {i}", words(100)) for i in range(1, 6)]


def test_everything_fits_in_a_large_window(sources: list[PromptSource]) -> None:
    fitted = fit_prompt(load_prompt("rag-v1"), "Q?", sources, count_words, 4096, 256)
    assert [s.number for s in fitted.sources] == [1, 2, 3, 4, 5]
    assert fitted.dropped == 0


def test_lowest_ranked_are_dropped_first_and_result_fits(sources: list[PromptSource]) -> None:
    window, max_tokens = 600, 200
    fitted = fit_prompt(load_prompt("rag-v1"), "Q?", sources, count_words, window, max_tokens)
    assert 0 < len(fitted.sources) < 5
    assert [s.title for s in fitted.sources] == [f"Title {i}" for i in range(1, len(fitted.sources) + 1)]
    assert fitted.dropped == 5 - len(fitted.sources)
    assert fitted.prompt_tokens == count_message_tokens(fitted.messages, count_words)
    assert fitted.prompt_tokens <= window - max_tokens


def test_question_is_kept_whole_even_when_no_source_fits(sources: list[PromptSource]) -> None:
    question = "What happened " + words(60) + "?"
    fitted = fit_prompt(load_prompt("rag-v1"), question, sources, count_words, 300, 100)
    assert fitted.sources == []
    assert question in fitted.messages[-1].content


def test_question_too_long_for_the_window_is_rejected(sources: list[PromptSource]) -> None:
    with pytest.raises(InvalidRequest):
        fit_prompt(load_prompt("rag-v1"), words(500), sources, count_words, 400, 100)


def test_estimate_is_conservative_for_english() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    # ~4.5 characters a token for English BPE: a 3-bytes-a-token estimate must be above that.
    assert estimate_tokens(text) >= len(text) / 4
