"""Runs a check in a forked child, as a prefork server's worker would run it, with a time limit."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable


def in_forked_child(check: Callable[[], bool], timeout_s: float) -> str:
    """``check()`` in a child forked from this process: ``"passed"``, ``"failed"`` (False or an error)
    or ``"hung"`` (killed after ``timeout_s``: what a pool forked with dead threads does)."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if check() else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + timeout_s
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "hung"
    return "passed" if os.waitstatus_to_exitcode(done[1]) == 0 else "failed"
