"""The answer's deadline, carried with the request: every wait on the way honours it.

The API sets it when a question arrives (``api.answer_timeout_s`` from then, minus the time
kept back to compose a fallback); the chat models read it. A context variable rather than one
more parameter on every call: anyio copies it into the worker threads that run the answerer.

    >>> with deadline_after(5.0):
    ...     0 < remaining(60.0) <= 5.0
    True
    >>> remaining(60.0)
    60.0
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("ragqa_deadline", default=None)


@contextmanager
def deadline_after(seconds: float | None) -> Iterator[None]:
    """Sets a deadline ``seconds`` from now (an outer, earlier one stays in force); None: no change."""
    if seconds is None:
        yield
        return
    outer = _DEADLINE.get()
    due = time.monotonic() + seconds
    token = _DEADLINE.set(due if outer is None else min(outer, due))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def set_deadline(seconds: float) -> None:
    """Sets the deadline for the rest of this context (a request's task); an earlier one stays."""
    outer = _DEADLINE.get()
    due = time.monotonic() + seconds
    _DEADLINE.set(due if outer is None else min(outer, due))


def remaining(default: float) -> float:
    """Seconds left before the deadline, at most ``default`` (``default`` when none is set; may be <= 0)."""
    due = _DEADLINE.get()
    if due is None:
        return default
    return min(default, due - time.monotonic())
