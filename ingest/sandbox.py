"""Parsing in a separate process, held to a deadline and a memory cap: a hostile file fails alone.

A zip bomb, a pathological PDF or a parser bug can take gigabytes or minutes; in the process that
also serves questions (or holds a worker's other documents) it would take everything down with it.
``ParseSandbox`` hands each document to a long-lived child process (``python -m ingest.sandbox``)
whose address space is capped with ``setrlimit``; past ``timeout_s`` the child is killed and the
next document gets a fresh one. The child is a plain subprocess, not ``multiprocessing``, so it
also works inside Celery's daemonic pool processes.

Example::

    sandbox = ParseSandbox(ParseLimits(), timeout_s=20, memory_bytes=2**30)
    parsed = sandbox.parse(data, "report.pdf")    # or raises ParseError / DocumentTooLarge
    parsed = sandbox.parse_file(FileToRead(Path("docs/a.pdf"), "a.pdf", 50 * 2**20, root=Path("docs")))
    sandbox.close()

A file on disk is best handed over as a ``FileToRead``: the child opens and reads it too, so a file
that blocks or never ends (a FIFO, a link to a device, a hung mount) costs the child its deadline,
never the calling process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from typing import IO, Any

import structlog

from core.errors import DocumentTooLarge, IngestError, ParseError, RagqaError
from ingest.files import FileToRead
from ingest.parsing import ParsedText, ParseLimits, parse_bytes

log = structlog.get_logger(__name__)
_HEADER = struct.Struct(">Q")
_START_TIMEOUT_S = 60.0  # the child imports the parsers once; a loaded machine may take a while


def _write(stream: IO[bytes], payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the parsing process closed its pipe")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the parsing process closed its pipe mid-message")
    return pickle.loads(data)


class ParseSandbox:
    """Parses documents one at a time in a child process; thread-safe (calls take turns)."""

    def __init__(self, limits: ParseLimits, timeout_s: float, memory_bytes: int) -> None:
        self.limits = limits
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def parse(self, data: bytes, name: str) -> ParsedText:
        return self._run(data, name)

    def parse_file(self, file: FileToRead) -> ParsedText:
        """Reads (in the child, within the deadline) and parses a file on disk."""
        return self._run(file, file.name)

    def _run(self, data: bytes | FileToRead, name: str) -> ParsedText:
        with self._lock:
            process = self._child()
            assert process.stdin is not None and process.stdout is not None
            try:
                _write(process.stdin, (data, name))
                if not _wait_readable(process.stdout, self.timeout_s):
                    self._kill("timeout", name)
                    raise DocumentTooLarge(f"{name}: reading and parsing took longer than {self.timeout_s:g} s "
                                           "(ingest.parse_timeout_s); the file was not ingested")
                kind, payload = _read(process.stdout)
            except (EOFError, BrokenPipeError, OSError) as exc:
                code = self._kill("died", name)
                raise DocumentTooLarge(
                    f"{name}: the parser stopped ({_describe_exit(code)}), most likely past its "
                    f"{self.memory_bytes // 2**20} MiB memory budget (ingest.parse_memory_bytes)") from exc
        if kind == "ok":
            parsed: ParsedText = payload
            return parsed
        error: RagqaError = payload
        raise error

    def start(self) -> None:
        """Starts the parsing process now (it imports the parsers: ~0.5 s), not on the first document."""
        with self._lock:
            self._child()

    def _child(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ingest.sandbox", str(self.memory_bytes), self.limits.to_json()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert self._process.stdout is not None
        if not _wait_readable(self._process.stdout, _START_TIMEOUT_S) or _read(self._process.stdout) != "ready":
            self._kill("start", "")
            raise IngestError("the parsing process did not start")
        return self._process

    def _kill(self, why: str, name: str) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        with contextlib.suppress(OSError):
            process.kill()
        code = process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        log.warning("ingest.parser_killed", reason=why, document=name, exit_code=code)
        return code

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()  # the child's read ends: it exits on its own
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _wait_readable(stream: IO[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            ready, _, _ = select.select([stream], [], [], left)
        except InterruptedError:
            continue
        return bool(ready)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


def _serve(memory_bytes: int, limits: ParseLimits) -> None:
    """The child: caps its own address space, then parses what arrives on stdin until it closes."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a parser library that prints must not corrupt the replies
    _write(stdout, "ready")
    while True:
        try:
            data, name = _read(stdin)
        except EOFError:
            return
        except MemoryError:
            os._exit(3)  # the rest of the message is still in the pipe: only a fresh process can go on
        try:
            if isinstance(data, FileToRead):
                data = data.read()
            reply: tuple[str, Any] = ("ok", parse_bytes(data, name, limits))
        except RagqaError as exc:
            reply = ("error", exc)
        except MemoryError:
            reply = ("error", DocumentTooLarge(f"{name}: parsing needed more than its {memory_bytes // 2**20} MiB "
                                               "memory budget (ingest.parse_memory_bytes)"))
        except (ValueError, RuntimeError, LookupError, OSError, RecursionError) as exc:
            reply = ("error", ParseError(f"{name}: {type(exc).__name__}: {exc}"))
        del data
        _write(stdout, reply)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), ParseLimits.from_json(sys.argv[2]))
