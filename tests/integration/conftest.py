"""Fixtures shared by the integration suites: SmolLM2 behind ``python -m llama_cpp.server``, the
OpenAI-compatible stand-in for vLLM, started once per session for every suite that needs it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.environment import require
from tests.support.services import LLMServer, free_port

SERVER_READY_TIMEOUT_S = 90.0
MODEL_ALIAS = "smollm2-135m-instruct"


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


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            require("No module named" not in tail, f"llama_cpp.server cannot start (missing extra?): {tail}")
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    pytest.fail(f"llama_cpp.server not ready after {SERVER_READY_TIMEOUT_S:.0f} s; log: {log_path}")


@pytest.fixture(scope="session")
def llm_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMServer]:
    """SmolLM2-135M served by llama.cpp's OpenAI-compatible server on 127.0.0.1 (a free port)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm_server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf_path), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2", "--seed", "7",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(process, f"http://127.0.0.1:{port}/v1/models", log_path)
        yield LLMServer(f"http://127.0.0.1:{port}/v1", MODEL_ALIAS, port)
    finally:
        process.terminate()
        try:
            # uvicorn's graceful stop waits for requests a timed-out client abandoned: don't.
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
