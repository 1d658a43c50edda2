"""Structured logging (structlog over the standard library), configured once per process."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

from core import pii

_HANDLER = "ragqa"


def configure_logging(level: str = "INFO", json: bool = False, mask_pii: bool = False) -> None:
    """Key-value logs on stderr; JSON lines when ``json`` (for log shippers).

    ``mask_pii`` (``ingest.mask_pii``): e-mail addresses, phone numbers, card numbers and IBANs are
    masked in every log line (``core.pii``), ours and the standard library's, tracebacks included.
    """
    masking: list[structlog.types.Processor] = [mask_pii_processor] if mask_pii else []
    # A JSON line carries a traceback as a string ("exception"): readable, and masked with the rest.
    exceptions: list[structlog.types.Processor] = [structlog.processors.format_exc_info] if json else []
    renderer: structlog.types.Processor
    if json:
        renderer = structlog.processors.JSONRenderer()
    elif mask_pii:
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=_masked_traceback)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *exceptions,
            *masking,
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
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *exceptions, *masking,
                        structlog.processors.JSONRenderer()],
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                               structlog.processors.TimeStamper(fmt="iso", utc=True)]))  # fmt: skip
    else:
        formatter = _MaskingFormatter if mask_pii else logging.Formatter
        handler.setFormatter(formatter("%(levelname)s %(name)s: %(message)s"))
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


def mask_pii_processor(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: every string in the event (in lists and dicts too) with its personal
    data masked (``core.pii``); keys and other values unchanged.

        >>> mask_pii_processor(None, "info", {"event": "mail.sent", "to": ["ana@example.org"], "n": 1})
        {'event': 'mail.sent', 'to': ['[email]'], 'n': 1}
    """
    for key, value in event.items():
        event[key] = _masked_value(value)
    return event


def _masked_value(value: Any) -> Any:
    if isinstance(value, str):
        return pii.mask_pii(value).text
    if isinstance(value, list | tuple):
        return type(value)(_masked_value(item) for item in value)
    if isinstance(value, dict):
        return {key: _masked_value(item) for key, item in value.items()}
    return value


def _masked_traceback(stream: TextIO, exc_info: Any) -> None:
    """A plain traceback, masked: Rich's would show local variables and cut long values inside its
    boxes ("ana@exam…"), out of the masking's reach."""
    text = io.StringIO()
    structlog.dev.plain_traceback(text, exc_info)
    stream.write(pii.mask_pii(text.getvalue()).text)


class _MaskingFormatter(logging.Formatter):
    """A standard library record's line, its traceback included, masked (plain text: no escaping to
    break, unlike a JSON line, which is masked field by field before it is rendered)."""

    def format(self, record: logging.LogRecord) -> str:
        return pii.mask_pii(super().format(record)).text


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
