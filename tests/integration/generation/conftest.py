"""Fixtures for the generation integration tests: SmolLM2 behind ``python -m llama_cpp.server``
(the OpenAI-compatible stand-in for vLLM), the same model in-process, and real text to answer from.

A missing model or package fails these tests in CI and skips them elsewhere, with the reason.
The server starts once per session; a bounded wait covers its readiness.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.types import Chunk, ScoredChunk, SearchFilters
from tests.support.services import free_port


@pytest.fixture(scope="session")
def llamacpp_model(gguf_path: Path) -> object:
    """The embedded backend, loaded once (about 100 MB)."""
    from generation.llamacpp_chat import LlamaCppChatModel

    # A generous deadline: on a loaded 2-core runner a slow answer must not turn into a fallback.
    return LlamaCppChatModel(gguf_path, n_threads=2, max_tokens=32, temperature=0.0, seed=7, timeout_s=300)


@pytest.fixture
def dead_url() -> str:
    """An address where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/v1"


class StaticRetriever:
    """Returns fixed chunks: these tests are about generation, not ranking."""

    def __init__(self, chunks: list[ScoredChunk]) -> None:
        self.chunks = chunks
        self.queries: list[str] = []

    def search(
        self, query: str, collection: str, top_k: int = 8, filters: SearchFilters | None = None
    ) -> list[ScoredChunk]:
        self.queries.append(query)
        return self.chunks[:top_k]


def lincoln_chunks(dense: float = 0.62) -> list[ScoredChunk]:
    texts = [
        "Abraham Lincoln was the sixteenth President of the United States, serving from March 1861 "
        "until his assassination in April 1865.",
        "Lincoln was born on February 12, 1809, in a one-room log cabin on the Sinking Spring Farm "
        "in Hardin County, Kentucky.",
        "Lincoln began his political career in 1832, at age 23, with a campaign for the Illinois General Assembly.",
    ]
    return [
        ScoredChunk(
            Chunk(
                f"a4#{i}",
                "set3/a4.txt",
                i,
                text,
                200 * i,
                200 * i + len(text),
                title="Abraham Lincoln",
                source="articles/set3/a4.txt",
            ),
            score=0.03 - i * 0.001,
            dense_score=dense - i * 0.05,
        )
        for i, text in enumerate(texts)
    ]
