"""The repetition-loop guard (loops flagged early, normal answers left alone, streaming equals
whole-text, trimming), and the penalties against loops reaching both chat backends."""

from __future__ import annotations

import json
import random
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import openai
import pytest

from core.settings import LLMSettings
from core.types import ChatMessage
from generation.llamacpp_chat import LlamaCppChatModel
from generation.openai_chat import OpenAIChatModel
from generation.repetition import RepetitionGuard, find_repetition, is_degenerate, trim

# (text before the loop, the looping unit): the unit repeats until max_tokens in real output.
LOOPS = {
    "word": ("RagQA is a ", "QA-based "),
    "word pair": ("The index ", "is a "),
    "chars": ("The key is ", "abc"),
    "sentence": ("Qdrant stores vectors [1]. ", "The answer is in the documents [2]. "),
    "line": ("Sources:\n", "- Paris is the capital of France\n"),
    "case and citations": ("It is ", "Paris [1], paris [2], PARIS. "),
}

FINE = {
    "prose": "Qdrant stores the dense and sparse vectors of every chunk [1]. The API embeds the "
    "question, searches both lists and fuses them with reciprocal rank fusion [2]. The best "
    "chunks go into the prompt, numbered, and the model cites them by number [1][3].",
    "list": "The API returns these errors:\n- 401 when the key is missing [1].\n- 413 when the "
    "body is too large [2].\n- 429 when the rate limit is hit [2].\n- 504 when the answer takes "
    "too long [3].",
    "table": "| Setting | Default | Meaning |\n|---|---|---|\n| max_tokens | 256 | Upper bound on "
    "generated tokens |\n| temperature | 0.1 | Sampling temperature |\n| seed | none | Sampling seed |",
    "table of yes": "| Feature | A | B | C | D |\n|---|---|---|---|---|\n| search | yes | yes | yes "
    "| yes |\n| cache | yes | yes | yes | yes |\n| auth | no | no | no | no |",
    "table of figures": "| run | p50 | p95 | p99 | max |\n|---|---|---|---|---|\n| cold | 0 | 0 | 0 "
    "| 0 |\n| warm | 1.5 | 1.5 | 1.5 | 1.5 |",
    "name": "Abraham Lincoln was born in 1809 [1]. Lincoln became president in 1861 [2]. Abraham "
    "Lincoln was assassinated in 1865 [3]. Lincoln is remembered for the Gettysburg Address [1], "
    "and Abraham Lincoln's legacy endures [2].",
    "a 4-gram twice": "The cache is keyed by the question [1]. The API reads the cache first; "
    "the cache is keyed by the collection too [2].",
    "refusal": "I don't know based on the provided documents.",
    "code": "Set these:\n```\nRAGQA_LLM__BASE_URL=http://vllm:8000/v1\nRAGQA_LLM__MODEL=llama\n```",
    "emphasis and placeholders": "It is very, very fast; no, no, no. Keys look like "
    "sk-xxxxxxxxxxxx or XXXX-XXXX-XXXX, versions like 1.1.1 and sums like 1,000,000,000.",
}


def loop_text(prefix: str, unit: str, copies: int = 20) -> str:
    return prefix + unit * copies


def words_until_flagged(prefix: str, unit: str) -> int:
    """Words of the loop (after ``prefix``) fed before the guard says degenerate."""
    guard = RepetitionGuard()
    guard.feed(prefix)
    pieces = re.findall(r"\S+\s*", unit * 20) if " " in unit else list(unit * 20)
    for count, piece in enumerate(pieces, 1):
        if guard.feed(piece):
            return count
    guard.finish()
    return 10**6


@pytest.mark.parametrize("name", LOOPS)
def test_loops_are_flagged_within_a_few_repeats(name: str) -> None:
    prefix, unit = LOOPS[name]
    unit_words = max(len(unit.split()), 1) if " " in unit else len(unit)
    # A loop is caught by its third copy, plus the n-gram's few words when it is a long unit.
    assert words_until_flagged(prefix, unit) <= 3 * unit_words + 4
    assert is_degenerate(loop_text(prefix, unit))


@pytest.mark.parametrize("name", FINE)
def test_normal_answers_are_not_flagged(name: str) -> None:
    assert find_repetition(FINE[name]) is None
    assert trim(FINE[name]) == FINE[name]


def test_a_4gram_a_third_time_breaks_the_product_bar() -> None:
    text = FINE["a 4-gram twice"] + " Changing it, the cache is keyed by the index version [3]."
    found = find_repetition(text)
    assert found is not None and found.kind == "ngram"


def test_a_line_repeated_back_to_back_is_flagged() -> None:
    found = find_repetition("Steps:\nRun the ingest command now\nRun the ingest command now\n")
    assert found is not None and found.kind == "line"


def test_a_run_of_citation_markers_is_a_loop() -> None:
    text = "The answer can be found in the doc:\n\n" + " ".join(f"[{i}]" for i in range(1, 28))
    found = find_repetition("It is not specified [1]. " + text)
    assert found is not None and found.kind == "citations"
    assert trim("It is not specified [1]. " + text) == "It is not specified [1]."
    assert not is_degenerate("Paris [1][2][3], Lyon [4] [5] [6].")


# Real SmolLM2-135M outputs (rag-v1 prompt, repeat_penalty 1.0) and where trim() cuts them.
REAL = [
    (  # lines wrap mid-sentence: a newline is no sentence end
        "The core package holds the `ingest` module, which is a composition root. It is a\n"
        "composite root that is a composition root, which is a composition root that",
        "The core package holds the `ingest` module, which is a composition root.",
    ),
    (  # a list item ends at its newline, and a dangling "2." is dropped
        "1. The server sends the request to the server's `RAGQA_LLM__CONTEXT_WINDOW` to the server's "
        "`RAGQA_LLM_CONTEXT_WINDOW`\n2. The server sends the request to the server's "
        "`RAGQA_LLM_CONTEXT_WINDOW` to the server's `RAGQA_LLM_CONTEXT_WINDOW`",
        "1. The server sends the request to the server's `RAGQA_LLM__CONTEXT_WINDOW` to the server's "
        "`RAGQA_LLM_CONTEXT_WINDOW`",
    ),
    (  # the first repeat is inside the first sentence: that sentence, holding it twice, stays
        "The origin of the chatbot is the browser's `Origin` header, which is set by the browser's "
        "`Origin` header.\n\nThe origin is set by the browser's `Origin` header, which",
        "The origin of the chatbot is the browser's `Origin` header, which is set by the browser's `Origin` header.",
    ),
    (
        "The answer to this question is:\n\nThe cache Redis has a maximum of 1 GB of memory.\n\n"
        "The answer is:\n\nThe maximum size of the memory of the cache Redis is 1 GB.\n\nThe answer is:\n\n"
        "The maximum size of the memory of the cache Redis is 1 GB.\n\nThe answer is:\n",
        "The answer to this question is:\n\nThe cache Redis has a maximum of 1 GB of memory.\n\n"
        "The answer is:\n\nThe maximum size of the memory of the cache Redis is 1 GB.",
    ),
]


@pytest.mark.parametrize(("text", "expected"), REAL)
def test_real_loops_are_trimmed_to_whole_sentences(text: str, expected: str) -> None:
    assert is_degenerate(text)
    assert trim(text) == expected


def samples() -> list[str]:
    return [loop_text(*loop) for loop in LOOPS.values()] + list(FINE.values()) + [text for text, _ in REAL]


@pytest.mark.parametrize("text", samples())
def test_streaming_in_odd_deltas_matches_the_whole_text(text: str) -> None:
    expected = find_repetition(text)
    rng = random.Random(13)
    for sizes in ([1], [2], [3, 7], [13, 1, 5], [rng.randint(1, 9) for _ in range(50)]):
        guard, at, i = RepetitionGuard(), 0, 0
        while at < len(text):
            guard.feed(text[at : at + sizes[i % len(sizes)]])
            at, i = at + sizes[i % len(sizes)], i + 1
        guard.finish()
        assert guard.repetition == expected
        assert guard.degenerate == (expected is not None)
        assert (guard.reason is None) == (expected is None)


def test_feed_keeps_saying_degenerate_after_the_loop() -> None:
    guard = RepetitionGuard()
    assert guard.feed(loop_text(*LOOPS["word"]))
    assert guard.feed("More text.") and guard.finish()
    assert guard.reason is not None and "qa-based" in guard.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (loop_text(*LOOPS["word"]), "RagQA is a QA-based"),  # no sentence ends before the loop
        (loop_text(*LOOPS["sentence"]), "Qdrant stores vectors [1]. The answer is in the documents [2]."),
        (loop_text(*LOOPS["line"]), "Sources:\n- Paris is the capital of France"),
        ("Paris is the capital [1]. It is a a a a a a a a", "Paris is the capital [1]."),
        ("The key is abcabcabcabcabc", "The key is abc"),
    ],
)
def test_trim_cuts_back_to_before_the_loop(text: str, expected: str) -> None:
    assert trim(text) == expected
    assert not is_degenerate(trim(text))


def test_the_guard_trims_what_it_was_fed() -> None:
    text = loop_text(*LOOPS["sentence"])
    guard = RepetitionGuard()
    fed = ""
    for piece in re.findall(r"\S+\s*", text):
        fed += piece
        if guard.feed(piece):
            break
    assert guard.trim(fed) == trim(text)
    assert RepetitionGuard().trim(FINE["prose"]) == FINE["prose"]


# ---- penalties reach the backends -----------------------------------------------------------


def openai_request(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> dict[str, Any]:
    """The JSON body a model built by ``from_settings`` sends, through an in-memory transport."""
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        message = {"role": "assistant", "content": "ok"}
        body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
        return httpx.Response(200, json=body)

    client, real = httpx.Client(transport=httpx.MockTransport(handler)), openai.OpenAI
    with monkeypatch.context() as patch:
        patch.setattr(openai, "OpenAI", lambda **kwargs: real(**{**kwargs, "http_client": client}))
        model = OpenAIChatModel.from_settings(LLMSettings(base_url="http://llm.test/v1", **settings))
    model.complete([ChatMessage("user", "Hi")])
    return sent[0]


def test_frequency_penalty_is_sent_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert openai_request(monkeypatch, frequency_penalty=0.4)["frequency_penalty"] == 0.4
    assert "frequency_penalty" not in openai_request(monkeypatch)  # servers that reject it


class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: records the sampling arguments of each completion."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, model_path: str, **kwargs: Any) -> None:
        self.n_tokens = 10

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        FakeLlama.calls.append(kwargs)
        yield {"choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}


def test_repeat_penalty_reaches_llama_cpp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=FakeLlama))
    FakeLlama.calls.clear()
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    model = LlamaCppChatModel.from_settings(LLMSettings(gguf_path=gguf, repeat_penalty=1.3))
    assert model.complete([ChatMessage("user", "Hi")])[0] == "ok"
    assert FakeLlama.calls[0]["repeat_penalty"] == 1.3


@pytest.mark.parametrize("field", [{"repeat_penalty": 0.9}, {"repeat_penalty": 2.5}, {"frequency_penalty": 3}])
def test_penalties_out_of_range_are_rejected(field: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LLMSettings(**field)  # type: ignore[arg-type]
