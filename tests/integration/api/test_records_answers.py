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


def fees_mail() -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["Subject"] = "harbor@example.com", "Fees for 2025"
    message.set_content("The new fees are attached.")
    message.add_attachment(b"Berth 9 costs EUR 980 a day from January 2025.", maintype="text", subtype="plain",
                           filename="berth-fees.txt")
    return message.as_bytes()


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
    (folder / "fees.eml").write_bytes(fees_mail())
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    report = parts.pipeline.ingest(list(iter_sources([folder])), "docs")
    added = {r.doc_id for r in report.results if r.status == "added"}
    assert added == {"per-diem.csv", "order.eml", "fees.eml", "fees.eml/berth-fees.txt"}, report.to_dict()
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


def test_an_attachment_is_a_document_of_its_own_and_answers(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "How much does Berth 9 cost a day?", "collection": "docs"}).json()
    assert not body["refused"], body
    first = body["citations"][0]
    assert first["doc_id"] == "fees.eml/berth-fees.txt" and "EUR 980" in first["quote"]["text"], first
