"""Structured logging (structlog over the standard library), configured once per process."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import structlog

_HANDLER = "ragqa"


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
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # The standard library's loggers (uvicorn and its access log, Celery, the HTTP client) go through
    # one handler of ours, in the same shape: JSON lines too when ``json``.
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                               structlog.processors.TimeStamper(fmt="iso", utc=True)]))  # fmt: skip
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter (HTTP requests, model loading) is noise at INFO.
    for noisy in ("httpx", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The chunker tokenizes whole documents to measure them; "longer than max length" is expected.
    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)


@contextmanager
def logs_to(stream: TextIO) -> Iterator[None]:
    """Log lines go to ``stream`` for a while, then back.

    For a live progress display: Rich swaps ``sys.stderr`` for a proxy that prints above the
    display, but the loggers hold the stream they were configured with. (Resolving ``sys.stderr``
    at every write instead would loop through Celery's stdout-to-logging proxy in a worker.)
    """
    previous = structlog.get_config()["logger_factory"]
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stream))
    handlers = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    streams = [h.stream for h in handlers]
    for handler in handlers:
        handler.setStream(stream)
    try:
        yield
    finally:
        structlog.configure(logger_factory=previous)
        for handler, old in zip(handlers, streams, strict=True):
            handler.setStream(old)
