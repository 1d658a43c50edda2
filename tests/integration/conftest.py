"""Fixtures shared by the integration suites: SmolLM2 behind ``python -m llama_cpp.server``, the
OpenAI-compatible stand-in for vLLM, started once per session for every suite that needs it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.environment import require
from tests.support.services import LLM_MODEL_ALIAS, LLMServer, free_port, wait_llm_ready


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    require(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python is not installed")
    from core.errors import ConfigurationError
    from generation.llamacpp_chat import default_gguf_path

    try:
        return default_gguf_path()
    except ConfigurationError as exc:
        require(False, f"the SmolLM2 GGUF is missing: {exc.message}")
        raise


@pytest.fixture(scope="session")
def llm_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMServer]:
    """SmolLM2-135M served by llama.cpp's OpenAI-compatible server on 127.0.0.1 (a free port)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm_server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf_path), "--model_alias", LLM_MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2", "--seed", "7",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_llm_ready(process, f"http://127.0.0.1:{port}/v1/models", log_path)
        yield LLMServer(f"http://127.0.0.1:{port}/v1", LLM_MODEL_ALIAS, port)
    finally:
        process.terminate()
        try:
            # uvicorn's graceful stop waits for requests a timed-out client abandoned: don't.
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
