"""Spreadsheets and mail answer questions the way companies ask them: a CSV row is quoted whole with
its header ("City: Denver · Per diem: $74"), an e-mail's header field ("Carrier: ...") is its own
quotable sentence; extractive answers, no model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bootstrap.components import Components
from core.settings import Settings
from ingest.sources import iter_sources
from tests.support.api import make_settings
from tests.support.services import free_port

RATES = ("City,Country,Currency,Lodging cap,Meals and incidentals\n"
         "Boston,United States,USD,258,79\nDenver,United States,USD,199,74\nLondon,United Kingdom,GBP,210,72\n")
MAIL = ("From: Tidewater Outfitters <orders@tidewater.example>\nTo: Marcus Bell <marcus@mailbox.example>\n"
        "Date: Mon, 15 Apr 2024 13:27:02 -0400\nSubject: Your order #TW-20931 has shipped!\n\n"
        "Hi Marcus,\n\nGood news: your order is on its way.\n\nCarrier: ParcelPoint Ground\n"
        "Tracking number: PP4471-9938-02\nEstimated delivery: Thursday 18 April 2024\n")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str) -> Settings:
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # never asked: answers are extractive
    return make_settings(tmp_path_factory.mktemp("records"), redis_url, key_prefix + "records:", dead_llm,
                         answer={"mode": "extractive"})


@pytest.fixture(scope="module")
def client(settings: Settings, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("records-docs")
    (folder / "per-diem.csv").write_text(RATES)
    (folder / "order.eml").write_text(MAIL)
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    report = parts.pipeline.ingest(list(iter_sources([folder])), "docs")
    assert report.counts()["added"] == 2, report.to_dict()
    with TestClient(create_app(settings, parts)) as test_client:
        yield test_client
    parts.close()


@pytest.mark.parametrize(("question", "quoted"), [
    ("What is the meals and incidentals allowance for Denver?", "City: Denver"),
    ("Which carrier is delivering order TW-20931?", "Carrier: ParcelPoint Ground"),
])  # fmt: skip
def test_a_row_or_a_field_is_quoted_whole(client: TestClient, question: str, quoted: str) -> None:
    body = client.post("/ask", json={"question": question, "collection": "docs"}).json()
    assert not body["refused"], body
    quotes = [c["quote"]["text"] for c in body["claims"] if c.get("quote")]  # every sentence the answer quotes
    assert any(q.startswith(quoted) for q in quotes), quotes
    if quoted == "City: Denver":
        row = next(q for q in quotes if q.startswith(quoted))
        assert "Meals and incidentals: 74" in row and "Boston" not in row  # one row, with its header
