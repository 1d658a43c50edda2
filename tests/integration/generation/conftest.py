"""Fixtures for the generation integration tests: SmolLM2 behind ``python -m llama_cpp.server``
(the OpenAI-compatible stand-in for vLLM), the same model in-process, and an address where nothing listens.

A missing model or package fails these tests in CI and skips them elsewhere, with the reason.
The server starts once per session; a bounded wait covers its readiness.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
