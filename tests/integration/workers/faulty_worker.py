"""`ragqa worker` with two faults injected, for the delivery tests (run as a script):

- a document containing ``KILL-THE-WORKER`` kills its worker process (SIGKILL), every time,
  a second after it starts, while the other thread is busy with an innocent document: a poison
  document;
- a document containing ``FLAKY-INDEX`` finds the index unavailable on its first two
  attempts (counted in a file beside the document), then succeeds: a transient failure.

Everything else is the real worker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import ingest.pipeline
from core.errors import IndexUnavailable
from ingest.parsing import ParsedText, ParseLimits, parse_bytes

FLAKY_FAILURES = 2


def faulty_parse_bytes(data: bytes, name: str, limits: ParseLimits | None = None) -> ParsedText:
    if b"KILL-THE-WORKER" in data:
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)
    parsed = parse_bytes(data, name, limits)
    if b"FLAKY-INDEX" in data:
        marker = Path(os.environ["RAGQA_TEST_FLAKY_DIR"]) / f"{name}.attempts"
        attempts = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(attempts + 1))
        if attempts < FLAKY_FAILURES:
            raise IndexUnavailable(f"{name}: the index is unavailable (injected, attempt {attempts + 1})")
    return parsed


if __name__ == "__main__":
    # In the worker's own process, where the faults must strike (not in a parsing sandbox).
    os.environ["RAGQA_INGEST__PARSE_ISOLATION"] = "false"
    ingest.pipeline.parse_bytes = faulty_parse_bytes  # type: ignore[assignment]
    from cli.main import app

    sys.argv[0] = "ragqa"
    app()
