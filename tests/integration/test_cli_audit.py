"""`ragqa audit` over the shared Redis: JSON lines with filters, a file export, the table, a bad --since."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import typer
from typer.testing import CliRunner

from cli import audit_cmd, output
from core.audit_settings import AuditSettings
from core.settings import Settings
from state.audit import DAY_MS, SyncAuditLog, audit_fields
from state.keys import Keyspace
from tests.support.environment import require
from tests.support.services import SHARED_REDIS, delete_prefix, redis_reachable


@pytest.fixture
def key_prefix() -> Iterator[str]:
    require(redis_reachable(SHARED_REDIS), f"a Redis server at {SHARED_REDIS}")
    prefix = f"ragqa-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(SHARED_REDIS, prefix)


@pytest.fixture
def settings(key_prefix: str) -> Settings:
    return Settings(redis={"url": SHARED_REDIS, "key_prefix": key_prefix})


@pytest.fixture
def trail(key_prefix: str) -> list[str | None]:
    """Two entries from a week ago, three from now (one with a question, kept by the setting)."""
    client = redis.Redis.from_url(SHARED_REDIS)
    week_ago_ms = int(time.time() * 1000) - 7 * DAY_MS
    for i, who in enumerate(["user:ana", "key:ops-bot"]):
        client.xadd(Keyspace(key_prefix).audit, audit_fields(who, "ask", "POST /ask"),  # type: ignore[arg-type]
                    id=f"{week_ago_ms}-{i}")
    audit = SyncAuditLog(client, AuditSettings(include_questions=True), key_prefix)
    return [audit.record("user:ana", "upload", "POST /documents", collection="docs", doc_ids=["a.txt", "b.md"],
                         status=202),
            audit.record("key:ops-bot", "delete", "DELETE /documents/{doc_id}", collection="docs",
                         doc_ids=["a.txt"], status=200),
            audit.record("user:ana", "ask", "POST /ask", collection="docs", status=200, question="Who signed?")]


def ragqa_audit(settings: Settings, *args: str) -> typer.testing.Result:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, as in `ragqa`: the command keeps its name
        pass

    audit_cmd.register(app)
    # A wide table: the console reads COLUMNS when made (at import), so it is widened here.
    width = output.console.width
    output.console.width = 200
    try:
        return CliRunner().invoke(app, ["audit", *args], obj=settings)
    finally:
        output.console.width = width


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_json_lines_with_since_and_principal(settings: Settings, trail: list[str | None]) -> None:
    everything = ragqa_audit(settings, "--json")
    assert everything.exit_code == 0, everything.output
    assert len(lines(everything.stdout)) == 5

    recent = ragqa_audit(settings, "--json", "--since", "1d")
    assert [e["id"] for e in lines(recent.stdout)] == trail
    anas = lines(ragqa_audit(settings, "--json", "--since", "1h", "--principal", "ana").stdout)
    assert [(e["action"], e["doc_ids"], e["status"]) for e in anas] == [("upload", ["a.txt", "b.md"], 202),
                                                                        ("ask", [], 200)]
    assert anas[1]["question"] == "Who signed?" and anas[1]["principal"] == "user:ana"
    bots = lines(ragqa_audit(settings, "--json", "--principal", "key:ops-bot").stdout)
    assert [e["action"] for e in bots] == ["ask", "delete"]


def test_out_writes_json_lines_to_a_file(settings: Settings, trail: list[str | None], tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")  # a date with an offset
    result = ragqa_audit(settings, "--since", yesterday, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert [e["id"] for e in lines(out.read_text(encoding="utf-8"))] == trail
    assert result.stdout == "" and "exported 3 audit entries" in result.stderr


def test_the_table_shows_who_did_what(settings: Settings, trail: list[str | None]) -> None:
    result = ragqa_audit(settings, "--since", "1h")
    assert result.exit_code == 0, result.output
    assert "3 audit entries" in result.stdout
    for text in ("user:ana", "key:ops-bot", "POST /documents", "a.txt", "Who signed?"):
        assert text in result.stdout


def test_a_bad_since_is_an_invalid_request(settings: Settings) -> None:
    result = ragqa_audit(settings, "--json", "--since", "last tuesday")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "invalid_request"
