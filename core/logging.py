"""Structured logging (structlog over the standard library), configured once per process."""

from __future__ import annotations

import logging
import sys

import structlog


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the time of writing, not at configuration: a live progress
    display (Rich) swaps it for a proxy that prints above the display instead of into it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Key-value logs on stderr; JSON lines when ``json`` (for log shippers)."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=_CurrentStderr(), format="%(levelname)s %(name)s: %(message)s")
    # Third-party chatter (HTTP requests, model loading) is noise at INFO.
    for noisy in ("httpx", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The chunker tokenizes whole documents to measure them; "longer than max length" is expected.
    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)
