"""Running one document alone in a worker process, so that a crash can be blamed on it.

A threads-pool worker runs several documents in one process: when a document kills the
process, every document in flight there dies with it, and each of them looks like the culprit.
So a document that was in flight during a crash runs next time with the process to itself:
it waits for the documents running now to finish, and no new one starts until it is done.

    >>> slots = ProcessSlots()
    >>> with slots.slot(alone=False):  # any number of ordinary documents at once
    ...     pass
    >>> with slots.slot(alone=True):   # this one only
    ...     pass
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ProcessSlots:
    """A readers-writer lock that favours the writer (a document that must run alone)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._running = 0
        self._alone = False
        self._waiting_alone = 0

    @contextmanager
    def slot(self, alone: bool) -> Iterator[None]:
        with self._condition:
            if alone:
                self._waiting_alone += 1
                self._condition.wait_for(lambda: not self._alone and self._running == 0)
                self._waiting_alone -= 1
                self._alone = True
            else:
                # A document waiting to run alone goes first, or a busy worker would starve it.
                self._condition.wait_for(lambda: not self._alone and self._waiting_alone == 0)
                self._running += 1
        try:
            yield
        finally:
            with self._condition:
                if alone:
                    self._alone = False
                else:
                    self._running -= 1
                self._condition.notify_all()
