"""`ragqa ask`: answer one question from a collection, with numbered sources."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.markup import escape

from bootstrap.components import Components
from cli.ingest_cmd import CollectionOpt, JsonOpt, parse_tags
from cli.output import console, fail, print_json
from core.errors import RagqaError
from core.settings import Settings
from core.types import Answer, SearchFilters
from generation.answers import AnswerDelta, AnswerDone


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: CollectionOpt = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated.")] = False,
    doc_id: Annotated[list[str] | None, typer.Option("--doc", help="Only these documents (repeatable).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only documents with this key=value tag.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from your documents, citing the sources as [n]."""
    settings: Settings = ctx.obj
    name = collection or settings.ingest.default_collection
    try:
        filters = SearchFilters(doc_ids=tuple(doc_id or ()), tags_all=tuple(parse_tags(tag or []).items()))
        with Components(settings) as parts:
            parts.index.stats(name)  # a missing collection is a clear error before any model loads
            answerer = parts.answerer
            if stream and not as_json:
                answer = _stream(answerer.ask_stream(question, name, filters))
            else:
                answer = answerer.ask(question, name, filters)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(dataclasses.asdict(answer))
        return
    if not stream:
        console.print(escape(answer.text))
    print_sources(answer)


def _stream(events: object) -> Answer:
    for event in events:  # type: ignore[attr-defined]
        if isinstance(event, AnswerDelta):
            console.print(escape(event.text), end="", soft_wrap=True)
        elif isinstance(event, AnswerDone):
            console.print()
            return event.answer
    raise RuntimeError("the answer stream ended without a final answer")


def print_sources(answer: Answer) -> None:
    flags = [f for f, on in (("refused", answer.refused), (f"degraded: {answer.degraded}", answer.degraded)) if on]
    if flags:
        console.print(f"[yellow]({', '.join(flags)})[/]")
    for c in answer.citations:
        where = f"p.{c.page} " if c.page else ""
        console.print(f"[bold][{c.number}][/] {escape(c.title or c.doc_id)} ({escape(c.doc_id)}, {where}"
                      f"chars {c.start}-{c.end}): {escape(c.snippet[:160])}")
    total = answer.timings_ms.get("total")
    console.print(f"[dim]{answer.model} · prompt {answer.prompt_version}"
                  + (f" · {total:.0f} ms" if total else "") + "[/]")


def register(app: typer.Typer) -> None:
    app.command()(ask)
