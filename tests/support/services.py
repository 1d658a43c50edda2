"""Services the integration suites start or share: free ports, the llama.cpp server's address and
readiness, the shared Redis and a redis-server of a test's own.

    >>> server = RedisServer(free_port())  # doctest: +SKIP
    >>> server.start(); redis_reachable(server.url); server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.support.environment import require

SHARED_REDIS = "redis://127.0.0.1:6379/0"
LLM_READY_TIMEOUT_S = 90.0
LLM_MODEL_ALIAS = "smollm2-135m-instruct"


@dataclass(frozen=True)
class LLMServer:
    """Where the session's ``llm_server`` fixture serves SmolLM2 (OpenAI-compatible)."""

    base_url: str
    model: str
    port: int


def wait_llm_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """Until ``llama_cpp.server`` answers ``url``; a server that exits or stays silent fails the test."""
    deadline = time.monotonic() + LLM_READY_TIMEOUT_S
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
    pytest.fail(f"llama_cpp.server not ready after {LLM_READY_TIMEOUT_S:.0f} s; log: {log_path}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def delete_prefix(url: str, prefix: str) -> None:
    """Our keys only: never FLUSHDB on the shared server."""
    client = redis.Redis.from_url(url)
    batch = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(batch), 500):
        client.delete(*batch[i:i + 500])


class RedisServer:
    """A redis-server of the test's own on a free port (never the shared one), stoppable.

    With ``folder``, it keeps an append-only file there, so a restart finds its data again.
    """

    def __init__(self, port: int, folder: Path | None = None) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        persistence = ["--appendonly", "no"]
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            persistence = ["--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not redis_reachable(self.url):
            if time.monotonic() > deadline:
                raise AssertionError("own redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
