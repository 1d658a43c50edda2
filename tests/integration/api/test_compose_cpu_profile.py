"""The API with the compose ``cpu`` profile's settings and no LLM server anywhere: it starts, reports
itself ready (the LLM ``unused``: extractive answers call none), and answers /ask with cited sentences.

The settings are the ``api-cpu`` service's environment, interpolated as Compose does with no .env and
read by pydantic-settings from the environment, as in the container. Only what names the compose
network (the Qdrant, Redis and broker hosts) or the container's filesystem is replaced: by the shared
Redis and an embedded store in a temporary folder. An embedded store admits one process, so jobs run
in the API's process instead of on Celery (``runner`` inprocess); every other value is the profile's.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from bootstrap.components import Components
from core.settings import Settings
from ingest.sources import iter_sources
from tests.support.api import LiveServer
from tests.support.compose import environment, load_compose

KETTLE = ("The Zephyr kettle is descaled every two months with citric acid. Its warranty lasts three years. "
          "The kettle switches itself off when the water boils or when it is lifted from its base.")  # fmt: skip


@pytest.fixture
def cpu_settings(tmp_path: Path, redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    profile = environment(load_compose()["services"]["api-cpu"], {})
    local = {
        "RAGQA_QDRANT__PATH": str(tmp_path / "qdrant"),  # instead of RAGQA_QDRANT__URL (dropped)
        "RAGQA_REDIS__URL": redis_url,
        "RAGQA_REDIS__JOBS_URL": redis_url,
        "RAGQA_WORKERS__BROKER_URL": redis_url,
        "RAGQA_REDIS__KEY_PREFIX": key_prefix + "compose-cpu:",
        "RAGQA_WORKERS__RUNNER": "inprocess",
        "RAGQA_API__HOST": "127.0.0.1",
        "RAGQA_API__UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    kept = set(profile) - set(local) - {"RAGQA_QDRANT__URL"}
    assert {"RAGQA_ANSWER__MODE", "RAGQA_API__INSECURE", "RAGQA_API__PORT", "RAGQA_LOG_JSON"} <= kept, kept
    for name in [n for n in os.environ if n.startswith("RAGQA_")]:
        monkeypatch.delenv(name)
    for name in kept:
        monkeypatch.setenv(name, profile[name])
    for name, value in local.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # the environment, as in the container; not a developer's .env


def test_the_api_starts_and_answers_with_the_cpu_profiles_settings(cpu_settings: Settings, tmp_path: Path) -> None:
    assert cpu_settings.llm.base_url is None and cpu_settings.answer.mode == "extractive"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "kettle.txt").write_text(KETTLE)
    parts = Components(cpu_settings)
    try:
        assert parts.pipeline.ingest(list(iter_sources([tmp_path / "docs"])), "docs").counts()["added"] == 1
        with LiveServer(create_app(cpu_settings, parts)) as server, httpx.Client(base_url=server.url,
                                                                                 timeout=60) as http:  # fmt: skip
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["status"] == "ok" and ready.json()["checks"]["llm"]["status"] == "unused", ready.text
            response = http.post("/ask", json={"question": "How often is the Zephyr kettle descaled?",
                                               "collection": "docs"})  # fmt: skip
            assert response.status_code == 200, response.text
            body = response.json()
            assert not body["refused"] and body["mode"] == "extractive", body
            assert [c["doc_id"] for c in body["citations"]][:1] == ["kettle.txt"], body["citations"]
        assert not parts.answerer.chat_model.loaded  # type: ignore[attr-defined]  # no model was ever loaded
    finally:
        parts.close()
