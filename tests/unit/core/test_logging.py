from __future__ import annotations

import io
import sys

import pytest
import structlog

from core.logging import configure_logging


def test_logs_go_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A live progress display swaps sys.stderr for a proxy that prints above it: logs must follow."""
    configure_logging("INFO")
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    structlog.get_logger("test").info("ingest.done", chunks=3)
    assert "ingest.done" in swapped.getvalue() and "chunks=3" in swapped.getvalue()
