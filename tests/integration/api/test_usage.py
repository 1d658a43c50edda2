"""What answers cost, metered per API key and collection (Prometheus, Redis, `ragqa usage`), and a key's
daily token quota: 429 `quota_exceeded`, naming the quota and when it resets.

Real components: the API over an embedded Qdrant store in a temporary folder, scoped keys made with the
`ragqa keys` command, the shared Redis (a key prefix per test); SmolLM2 behind llama.cpp's server for
the answers that spend tokens. Extractive answers spend none, but their time is metered.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import structlog
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from bootstrap.components import Components
from cli.main import app as cli
from core.settings import Settings
from ingest.sources import iter_sources
from state.keys import Keyspace
from state.usage import ALL, day_of, usage_field
from tests.support.api import make_settings
from tests.support.services import LLMServer, free_port

COLLECTION = "harbour"
FERRY = ("The island ferry leaves the harbour every morning at seven.\n\n"
         "In winter the ferry does not sail on Sundays.\n")  # fmt: skip
FERRY_Q = "When does the island ferry leave the harbour?"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ferry.txt").write_text(FERRY)
    return folder


def ragqa(settings: Settings, *args: str) -> Any:
    env = {"RAGQA_REDIS__URL": str(settings.redis.url), "RAGQA_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "RAGQA_QDRANT__PATH": str(settings.qdrant.path), "RAGQA_LOG_LEVEL": "WARNING"}  # fmt: skip
    saved = structlog.get_config()  # the command logs onto the runner's stream, closed after it: keep ours
    try:
        result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    finally:
        structlog.configure(**saved)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def open_app(settings: Settings, corpus: Path, embedder: Any) -> tuple[Components, TestClient]:
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    report = parts.pipeline.ingest(list(iter_sources([corpus])), COLLECTION)
    assert report.counts()["added"] == 1, report.to_dict()
    return parts, TestClient(create_app(settings, parts))


def ask(client: TestClient, key: str) -> Any:
    return client.post("/ask", json={"question": FERRY_Q, "collection": COLLECTION},
                       headers={"Authorization": f"Bearer {key}"})


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    series = f"{name}{{{wanted}}}" if labels else name
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert found, f"{series} is not exported"
    return float(found.group(1))


def test_answers_are_metered_per_key_and_collection_and_a_spent_quota_answers_429(
        tmp_path: Path, redis_url: str, key_prefix: str, corpus: Path, embedder: Any) -> None:
    settings = make_settings(tmp_path, redis_url, f"{key_prefix}usage-x:", f"http://127.0.0.1:{free_port()}/v1",
                             answer={"mode": "extractive"}, api={"require_auth": True})
    metered = ragqa(settings, "keys", "create", "meter-bot", "--daily-tokens", "50")["key"]
    free = ragqa(settings, "keys", "create", "free-bot")["key"]
    parts, client = open_app(settings, corpus, embedder)
    with client:
        first, again = ask(client, metered), ask(client, metered)
        assert first.status_code == again.status_code == 200, first.text
        assert (first.json()["cached"], again.json()["cached"]) == (False, True)
        exported = client.get("/metrics").text
        labels = {"key": "meter-bot", "collection": COLLECTION}
        assert metric(exported, "ragqa_usage_answers_total", cached="false", **labels) == 1
        assert metric(exported, "ragqa_usage_answers_total", cached="true", **labels) == 1
        assert metric(exported, "ragqa_usage_model_seconds_total", **labels) > 0  # extractive: time, no tokens
        assert metric(exported, "ragqa_usage_tokens_total", type="prompt", **labels) == 0
        # Extractive answers spend no tokens: the quota is not touched.
        assert ask(client, metered).status_code == 200
    [row] = ragqa(settings, "usage", "--key", "meter-bot")
    assert (row["caller"], row["collection"], row["answers"], row["cached"], row["tokens"]) == (
        "key:meter-bot", COLLECTION, 3, 2, 0)
    assert row["model_ms"] >= 1

    # The day's spend reaches the quota (as generated answers would record it): the key is refused until
    # midnight UTC, and another key is not.
    today = Keyspace(settings.redis.key_prefix).usage(day_of(datetime.now(UTC)))
    redis.Redis.from_url(redis_url).hincrby(today, usage_field("key:meter-bot", ALL, "tokens"), 50)
    with client:
        refused = ask(client, metered)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "quota_exceeded"
        assert "daily quota of 50 tokens" in error["message"] and "resets at 00:00 UTC" in error["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 24 * 3600
        assert ask(client, free).status_code == 200
        assert metric(client.get("/metrics").text, "ragqa_quota_exceeded_total") == 1
    parts.close()


def test_generated_answers_meter_their_tokens_and_the_key_stops_at_its_quota(
        tmp_path: Path, redis_url: str, key_prefix: str, corpus: Path, embedder: Any,
        llm_server: LLMServer) -> None:
    settings = make_settings(tmp_path, redis_url, f"{key_prefix}usage-g:", llm_server.base_url,
                             answer={"mode": "generative"}, api={"require_auth": True})
    key = ragqa(settings, "keys", "create", "gen-bot", "--daily-tokens", "100")["key"]
    parts, client = open_app(settings, corpus, embedder)
    with client:
        answered = ask(client, key)
        assert answered.status_code == 200, answered.text
        spent = answered.json()["usage"]["total_tokens"]
        assert spent > 100  # the prompt alone is a few hundred tokens
        exported = client.get("/metrics").text
        labels = {"key": "gen-bot", "collection": COLLECTION}
        assert metric(exported, "ragqa_usage_tokens_total", type="prompt", **labels) == \
            answered.json()["usage"]["prompt_tokens"]
    with client:  # (a restart: the counters are written in the background, and the stop waits for them)
        over = client.post("/chat", json={"messages": [{"role": "user", "content": "And on Sundays?"}],
                                          "collection": COLLECTION}, headers={"Authorization": f"Bearer {key}"})
        assert over.status_code == 429 and over.json()["error"]["code"] == "quota_exceeded", over.text
    [row] = ragqa(settings, "usage", "--key", "gen-bot", "--days", "2")
    assert row["tokens"] == spent and row["answers"] == 1 and row["model_ms"] > 0
    parts.close()
