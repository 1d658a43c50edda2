"""Running blocking work off the event loop: calls and iterators, with a deadline.

Embedding and llama.cpp block for milliseconds to seconds (in C, releasing the GIL); they run in
worker threads so the loop keeps serving (cache hits stay fast while a generation runs).

    >>> import anyio
    >>> anyio.run(run_blocking, sum, [1, 2, 3])
    6
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from core.errors import AnswerTimeout

T = TypeVar("T")
_END = object()


async def run_blocking(fn: Callable[..., T], *args: Any, timeout_s: float | None = None,
                       limiter: anyio.CapacityLimiter | None = None) -> T:
    """``fn(*args)`` in a worker thread (one of ``limiter``'s); past ``timeout_s`` the caller gets
    ``AnswerTimeout``.

    On timeout the thread is abandoned, not killed (Python cannot): it finishes in the
    background and its result is dropped.
    """
    if timeout_s is None:
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
    try:
        with anyio.fail_after(timeout_s):
            return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True, limiter=limiter)
    except TimeoutError as exc:
        raise AnswerTimeout(f"no answer within {timeout_s:g} s") from exc


class _Stepper:
    """Steps an iterator from worker threads, one step at a time; closes it once no step runs."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._iterator = iterator
        self._lock = threading.Lock()
        self._closed = False

    def step(self) -> Any:
        with self._lock:
            if self._closed:
                return _END
            return next(self._iterator, _END)

    def close(self) -> None:
        with self._lock:  # waits for a step still running in an abandoned thread
            if self._closed:
                return
            self._closed = True
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()

    @property
    def busy(self) -> bool:
        return self._lock.locked()


async def iterate_blocking(iterator: Iterator[T],
                           limiter: anyio.CapacityLimiter | None = None) -> AsyncGenerator[T, None]:
    """Each ``next()`` in a worker thread; the iterator is closed when the consumer stops early.

    A step can be abandoned (a deadline passed, the client left); the iterator is then closed
    as soon as that step returns, in the background. Closing matters: a llama.cpp stream holds
    the model's lock until it is closed, and an HTTP stream keeps the LLM server busy.
    """
    stepper = _Stepper(iterator)
    try:
        while True:
            item = await anyio.to_thread.run_sync(stepper.step, abandon_on_cancel=True, limiter=limiter)
            if item is _END:
                return
            yield item
    finally:
        if stepper.busy:
            threading.Thread(target=stepper.close, name="close-abandoned-stream", daemon=True).start()
        else:
            with anyio.CancelScope(shield=True):  # runs while the request is being cancelled
                await anyio.to_thread.run_sync(stepper.close)
