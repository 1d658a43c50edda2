"""The per-client rate limit against a client that rotates ``X-Forwarded-For``, under the uvicorn
configuration ``ragqa serve`` uses: the header counts only from a configured proxy."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.server import server_config
from bootstrap.components import Components
from tests.support.api import make_settings, sharing
from tests.support.services import LLMServer, free_port


@contextmanager
def served(components: Components, redis_url: str, prefix: str, llm_url: str, tmp: Any,
           **api: Any) -> Iterator[str]:
    settings = make_settings(tmp, redis_url, prefix, llm_url,
                             api={"rate_limit_per_minute": 60, "rate_limit_burst": 3, **api})  # fmt: skip
    port = free_port()
    config = server_config(settings, "127.0.0.1", port, app=create_app(settings, sharing(components, settings)),
                           log_level="warning", lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-xff", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def statuses(url: str, count: int) -> list[int]:
    with httpx.Client(base_url=url, timeout=30) as http:
        return [http.get("/collections", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(1, count + 1)]


def test_a_rotated_forwarded_for_does_not_reset_the_limit(monkeypatch: pytest.MonkeyPatch, components: Components,
                                                          redis_url: str, key_prefix: str, llm_server: LLMServer,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    with served(components, redis_url, key_prefix + "xff-direct:", llm_server.base_url,
                tmp_path_factory.mktemp("xff")) as url:
        seen = statuses(url, 6)
    assert seen[:3] == [200, 200, 200] and 429 in seen[3:], seen


def test_a_configured_proxy_gives_each_visitor_a_bucket(monkeypatch: pytest.MonkeyPatch, components: Components,
                                                        redis_url: str, key_prefix: str, llm_server: LLMServer,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    with served(components, redis_url, key_prefix + "xff-proxy:", llm_server.base_url,
                tmp_path_factory.mktemp("xff-proxy"), forwarded_allow_ips=["127.0.0.1"]) as url:
        assert statuses(url, 6) == [200] * 6
