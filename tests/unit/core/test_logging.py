from __future__ import annotations

import io
import logging
import sys

import structlog

from core.logging import configure_logging, logs_to


def test_logs_go_where_a_live_display_wants_them_and_come_back() -> None:
    """A live progress display swaps sys.stderr for a proxy that prints above it: logs follow it
    while it lasts, then return to the stream they were configured with."""
    configure_logging("INFO")
    original = sys.stderr
    above = io.StringIO()
    with logs_to(above):
        structlog.get_logger("test").info("ingest.done", chunks=3)
        logging.getLogger("some.library").warning("stdlib too")
    assert "ingest.done" in above.getvalue() and "chunks=3" in above.getvalue()
    assert "stdlib too" in above.getvalue()
    assert structlog.get_config()["logger_factory"]._file is original
    structlog.get_logger("test").info("after")
    assert "after" not in above.getvalue()
