"""With ``ingest.mask_pii`` the logs are masked too: our events, the standard library's records and
tracebacks, in key-value lines and JSON lines alike."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from core.logging import configure_logging, logs_to, mask_pii_processor


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    configure_logging("WARNING")  # what tests/conftest.py sets for every test


def test_the_processor_masks_every_string_of_an_event() -> None:
    event = {"event": "ingest.failed", "error": "no mailbox ana@example.org", "to": ["+44 20 7946 0958"],
             "meta": {"card": "4111 1111 1111 1111"}, "chunks": 3, "day": "2024-01-15"}
    assert mask_pii_processor(None, "warning", event) == {
        "event": "ingest.failed", "error": "no mailbox [email]", "to": ["[phone]"],
        "meta": {"card": "[card]"}, "chunks": 3, "day": "2024-01-15"}


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("as_json", [False, True])
def test_log_lines_are_masked_when_the_setting_is_on(as_json: bool) -> None:
    configure_logging("INFO", json=as_json, mask_pii=True)
    out = io.StringIO()
    with logs_to(out):
        structlog.get_logger("test").info("mail.sent", to="ana@example.org", day="2024-01-15")
        logging.getLogger("some.library").warning("calling %s", "+1 (555) 123-4567")
        try:
            raise ValueError("bad IBAN DE89 3704 0044 0532 0130 00")
        except ValueError:
            structlog.get_logger("test").exception("ingest.crashed")
            logging.getLogger("some.library").exception("stdlib crashed")
    text = out.getvalue()
    assert "[email]" in text and "[phone]" in text and text.count("[iban]") >= 2
    for secret in ("ana@example.org", "123-4567", "DE89"):
        assert secret not in text
    assert "2024-01-15" in text and "ValueError" in text
    if as_json:
        assert all(json.loads(line) for line in text.splitlines() if line.startswith("{"))


@pytest.mark.usefixtures("restore_logging")
def test_log_lines_are_left_alone_when_the_setting_is_off() -> None:
    configure_logging("INFO")
    out = io.StringIO()
    with logs_to(out):
        structlog.get_logger("test").info("mail.sent", to="ana@example.org")
        logging.getLogger("some.library").warning("calling %s", "+1 (555) 123-4567")
    assert "ana@example.org" in out.getvalue() and "+1 (555) 123-4567" in out.getvalue()
