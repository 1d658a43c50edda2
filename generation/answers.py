"""Building the parts of an ``Answer``: citations, the sources-only fallback, stream events,
and per-stage timings.

    >>> timer = StageTimer()
    >>> with timer.stage("retrieve"):
    ...     pass
    >>> sorted(timer.timings_ms)
    ['retrieve']
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from core.tracing import Context, current_context, record_span
from core.types import Answer, Citation, Quote, ScoredChunk

SNIPPET_CHARS = 240
# An absolute path as a local ingest stores it: POSIX, Windows (drive or UNC), or a file: URL.
_ABSOLUTE = re.compile(r"^(/|\\\\|[A-Za-z]:[\\/]|file:)")


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """A piece of the answer text, as generated (invalid citations already held back).

    Example::

        for event in answerer.ask_stream(question, "docs"):
            if isinstance(event, AnswerDelta):
                print(event.text, end="", flush=True)
    """

    text: str
    type: Literal["delta"] = "delta"


@dataclass(frozen=True, slots=True)
class AnswerDone:
    """The last event of a stream: the complete, validated ``Answer``.

    Example::

        *deltas, done = answerer.ask_stream(question, "docs")
        show_citations(done.answer.citations)
    """

    answer: Answer
    type: Literal["done"] = "done"


AnswerEvent = AnswerDelta | AnswerDone


@dataclass(slots=True)
class StageTimer:
    """Wall-clock milliseconds per pipeline stage (``timings_ms`` goes into the Answer), and one span
    per stage (``answer.<stage>``) under the span current when the timer was made, while tracing is on.

    The spans are recorded when a stage ends, never made current: a stage may hold a generator's
    ``yield`` (``generate``), whose next step runs in another thread's context.

    Example::

        timer = StageTimer()
        with timer.stage("retrieve"):
            chunks = retriever.search(question, collection)
        answer.timings_ms = timer.finish()   # adds "total"
    """

    timings_ms: dict[str, float] = field(default_factory=dict)
    _started: float = field(default_factory=time.perf_counter)
    _parent: Context | None = field(default_factory=current_context)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            self.record(name, start, exc)
            raise
        self.record(name, start)

    def record(self, name: str, start: float, error: BaseException | None = None) -> None:
        elapsed = (time.perf_counter() - start) * 1000
        self.timings_ms[name] = round(self.timings_ms.get(name, 0.0) + elapsed, 3)
        record_span(f"answer.{name}", start, self._parent, error)

    def finish(self) -> dict[str, float]:
        self.timings_ms["total"] = round((time.perf_counter() - self._started) * 1000, 3)
        return self.timings_ms


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of ``text`` cut at a word boundary, with an ellipsis when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def snippet_around(text: str, start: int, end: int, limit: int = SNIPPET_CHARS) -> str:
    """A preview of ``text`` holding ``text[start:end]`` whole, with context cut at word boundaries.

    Only whitespace is folded, so the quoted sentence appears in it exactly as in ``text``
    (whitespace folded the same way): a client can find it and highlight it.
    """
    room = max(limit - (end - start), 0)
    before, after = text[:start], text[end:]
    left = before[max(len(before) - room // 2, 0):]
    right = after[: max(room - len(left), 0)]
    if len(left) < len(before) and " " in left:
        left = "…" + left.split(" ", 1)[1]
    if len(right) < len(after) and " " in right:
        right = right.rsplit(" ", 1)[0] + "…"
    return " ".join((left + text[start:end] + right).split())


def make_citation(number: int, scored: ScoredChunk, quote: Quote | None = None) -> Citation:
    chunk = scored.chunk
    span = chunk.span_at(quote.start if quote is not None else chunk.start)
    preview = (snippet_around(chunk.text, quote.start - chunk.start, quote.end - chunk.start)
               if quote is not None else snippet(chunk.text))
    return Citation(
        number=number,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title or chunk.doc_id,
        source=relative_source(chunk.source, chunk.doc_id),
        start=chunk.start,
        end=chunk.end,
        page=span.page if span is not None else None,
        page_unit=chunk.page_unit,
        page_label=span.label if span is not None else "",
        snippet=preview,
        score=scored.score,
        quote=quote,
    )


def relative_source(source: str, doc_id: str) -> str:
    """The name a client may see for where a document came from: never a server's filesystem path.

    A local ingest stores the file's absolute path; shown to clients it would reveal the server's
    layout, so it becomes the path relative to the ingest root (the doc_id, when the path ends with
    it) or else the file name. Anything else (an upload's file name, a URL, a label) stays.

        >>> relative_source("/srv/corpus/set1/a1.txt", "set1/a1.txt"), relative_source("/tmp/x/a.txt", "doc-7")
        ('set1/a1.txt', 'a.txt')
        >>> relative_source("report.pdf", "report.pdf")
        'report.pdf'
    """
    if not _ABSOLUTE.match(source):
        return source
    path = source.replace("\\", "/")
    if doc_id and path.endswith("/" + doc_id.lstrip("/")):
        return doc_id.lstrip("/")
    return path.rstrip("/").rsplit("/", 1)[-1]


def sources_only_text(chunks: Sequence[ScoredChunk], reason: str) -> str:
    """The fallback answer when the LLM cannot be used: the best passages, cited."""
    lines = [f"No generated answer ({reason}). The most relevant passages:"]
    for number, scored in enumerate(chunks, start=1):
        title = scored.chunk.title or scored.chunk.doc_id
        lines.append(f"[{number}] {title}: {snippet(scored.chunk.text)}")
    return "\n".join(lines)
