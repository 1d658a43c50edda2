"""`POST /feedback` kept in Redis, and `ragqa feedback export` as JSONL (eval rows and chat rows)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli
from core.settings import Settings

OFF_TOPIC = "What is the boiling point of liquid nitrogen in a vacuum chamber, feedback edition?"


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """The CLI configures logging onto CliRunner's stream, closed after the call: put ours back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("keep_logging")
def test_feedback_is_kept_and_exported(client: TestClient, api_settings: Settings, tmp_path: Path) -> None:
    answer = client.post("/ask", json={"question": OFF_TOPIC}).json()
    up = client.post("/feedback", json={"answer_id": answer["answer_id"], "rating": "up", "comment": "right to refuse"})
    assert up.status_code == 201, up.text
    assert up.json()["answer_id"] == answer["answer_id"] and up.json()["feedback_id"]
    down = client.post("/feedback", json={"answer_id": answer["answer_id"], "rating": "down"})
    assert down.status_code == 201

    env = {"RAGQA_REDIS__URL": str(api_settings.redis.url), "RAGQA_REDIS__KEY_PREFIX": api_settings.redis.key_prefix,
           "RAGQA_LOG_LEVEL": "WARNING"}  # fmt: skip
    out = tmp_path / "feedback.jsonl"
    result = CliRunner().invoke(cli, ["feedback", "export", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    mine = [r for r in rows if r["answer_id"] == answer["answer_id"]]
    assert [r["rating"] for r in mine] == ["up", "down"]
    assert mine[0]["question"] == answer["question"] and mine[0]["comment"] == "right to refuse"
    assert mine[0]["expect_refusal"] is True and mine[0]["answers"] == []

    chat = tmp_path / "chat.jsonl"
    result = CliRunner().invoke(cli, ["feedback", "export", "--format", "chat", "--out", str(chat)], env=env)
    assert result.exit_code == 0, result.output
    messages = [json.loads(line)["messages"] for line in chat.read_text().splitlines()]
    assert [m[0]["role"] for m in messages] == ["user"] * len(messages) and len(messages) >= 1


def test_feedback_on_an_unknown_answer_is_404(client: TestClient) -> None:
    response = client.post("/feedback", json={"answer_id": "0" * 32, "rating": "up"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    invalid = client.post("/feedback", json={"answer_id": "0" * 32, "rating": "meh"})
    assert invalid.status_code == 422
