"""Dependencies going away: Redis stopped (the test's own redis-server, never the shared one),
and the LLM server stopped. The API keeps answering, and says so in /readyz and /metrics."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from tests.support.api import make_settings, sharing
from tests.support.services import LLMServer, RedisServer, free_port

OFF_TOPIC = "What is the boiling point of liquid nitrogen in a vacuum chamber, resilience edition?"
ANSWERABLE = "How fast can a kangaroo hop?"


def test_redis_stopped_answers_go_out_uncached(
        components: Components, own_redis: RedisServer, llm_server: LLMServer, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, own_redis.url, "ragqa-test-down:", llm_server.base_url)
    with TestClient(create_app(settings, sharing(components, settings))) as client:
        assert client.post("/ask", json={"question": OFF_TOPIC}).json()["cached"] is False
        assert client.post("/ask", json={"question": OFF_TOPIC}).json()["cached"] is True

        own_redis.stop()
        for _ in range(4):  # past the breaker's threshold: later calls skip Redis outright
            started = time.monotonic()
            response = client.post("/ask", json={"question": OFF_TOPIC})
            assert response.status_code == 200
            assert response.json()["cached"] is False
            assert time.monotonic() - started < 3.0
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"]["status"] == "down"
        metrics = client.get("/metrics").text
        assert 'ragqa_cache_requests_total{kind="exact",result="error"}' in metrics
        assert "ragqa_redis_errors_total{" in metrics
        # Jobs and feedback need Redis: a clear 503, not a hang.
        upload = client.post("/documents", files=[("files", ("a.txt", b"hello"))])
        assert upload.status_code == 503 and upload.json()["error"]["code"] == "store_unavailable"

        own_redis.start()  # back (empty): after the breaker's reset the cache works again
        time.sleep(settings.redis.breaker_reset_s + 0.2)
        client.post("/ask", json={"question": OFF_TOPIC})
        assert client.post("/ask", json={"question": OFF_TOPIC}).json()["cached"] is True
        assert client.get("/readyz").json()["checks"]["redis"]["status"] == "ok"


def test_llm_stopped_gives_a_sources_only_answer_quickly(
        components: Components, redis_url: str, key_prefix: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the server is stopped
    settings = make_settings(tmp_path, redis_url, key_prefix + "deadllm:", dead)
    with TestClient(create_app(settings, sharing(components, settings))) as client:
        started = time.monotonic()
        response = client.post("/ask", json={"question": ANSWERABLE})
        assert time.monotonic() - started < settings.llm.timeout_s
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["degraded"] == "llm_unavailable"
        assert body["citations"] and body["refused"] is False
        # An outage is not an answer: the next request tries the LLM again.
        assert client.post("/ask", json={"question": ANSWERABLE}).json()["cached"] is False
        ready = client.get("/readyz").json()
        assert ready["status"] == "degraded" and ready["checks"]["llm"]["status"] == "down"


def test_llm_stopped_without_fallback_is_503(
        components: Components, redis_url: str, key_prefix: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = make_settings(tmp_path, redis_url, key_prefix + "nofallback:", dead,
                             guardrails={"fallback_sources_only": False})
    with TestClient(create_app(settings, sharing(components, settings))) as client:
        response = client.post("/ask", json={"question": ANSWERABLE})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "llm_unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "down"
