"""`ragqa ask`: answer one question from a collection, with numbered sources.

Each source line shows the sentence that supports the answer (the document's exact span, its
whitespace folded onto one line) and where it is: ``[1] Title (doc_id, chars 120-245): "the
sentence"``. A line under the answer says how it was made (``extractive``, ``generative``, ...),
its grounded share, and why it is not the configured kind (``degraded``). ``--json`` prints the
whole answer.

Document text (the answer, titles, doc ids, quotes) goes out as ``rich.text.Text``, never parsed
as markup: a doc id such as ``[/b].txt`` prints as itself. (``rich.markup.escape`` would do for
the brackets, but it doubles a trailing backslash unless a tag follows it.)
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Annotated

import typer
from rich.text import Text

from bootstrap.components import Components
from cli.ingest_cmd import CollectionOpt, JsonOpt
from cli.output import console, fail, print_json
from core.answer_request import AnswerRequest
from core.errors import RagqaError
from core.names import parse_tags
from core.settings import Settings
from core.types import Answer, Citation, SearchFilters
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
    r"""Answer a question from your documents, citing the sources as \[n]."""
    settings: Settings = ctx.obj
    name = collection or settings.ingest.default_collection
    try:
        filters = SearchFilters(doc_ids=tuple(doc_id or ()), tags_all=tuple(parse_tags(tag or []).items()))
        with Components(settings) as parts:
            parts.index.stats(name)  # a missing collection is a clear error before any model loads
            answerer = parts.answerer
            request = AnswerRequest(question, name, filters)
            if stream and as_json:  # NDJSON: a line per delta, then the answer
                for event in answerer.ask_stream(request):
                    line = ({"event": "delta", "text": event.text} if isinstance(event, AnswerDelta) else
                            {"event": "done", "answer": dataclasses.asdict(event.answer)})
                    sys.stdout.write(json.dumps(line, default=str) + "\n")
                    sys.stdout.flush()
                return
            answer = _stream(answerer.ask_stream(request)) if stream else answerer.ask(request)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(dataclasses.asdict(answer))
        return
    if not stream:
        console.print(Text(answer.text))
    print_sources(answer)


def _stream(events: object) -> Answer:
    streamed: list[str] = []
    for event in events:  # type: ignore[attr-defined]
        if isinstance(event, AnswerDelta):
            streamed.append(event.text)
            console.print(Text(event.text), end="", soft_wrap=True)
        elif isinstance(event, AnswerDone):
            console.print()
            answer: Answer = event.answer
            # The final text is authoritative: the self-check may have replaced what streamed.
            if "".join(answer.text.split()) != "".join("".join(streamed).split()):
                why = f" ({answer.degraded})" if answer.degraded else ""
                console.print(Text(f"The streamed text was replaced{why}; the answer:", style="yellow"))
                console.print(Text(answer.text))
            return answer
    raise RuntimeError("the answer stream ended without a final answer")


def describe(answer: Answer) -> str:
    """How the answer was made, in brief: ``extractive · grounded 100%``, plus any refusal or degradation."""
    parts = [answer.mode]
    if answer.confidence == "low":
        parts.append("low confidence: the documents may not answer this directly")
    if answer.grounded is not None:
        parts.append(f"grounded {answer.grounded:.0%}")
    if answer.refused and answer.mode != "refusal":
        parts.append("refused")
    if answer.degraded:
        parts.append(f"degraded: {answer.degraded}")
    return " · ".join(parts)


def source_line(c: Citation) -> Text:
    """``[n] Title (doc_id, p. N, chars a-b): "the quoted sentence"``; with no quote, the passage's span and start."""
    where = f"{c.location}, " if c.location else ""
    if c.quote is not None:  # the exact span of the document that supports the answer
        span, text = f"chars {c.quote.start}-{c.quote.end}", '"' + " ".join(c.quote.text.split()) + '"'
    else:
        span, text = f"chars {c.start}-{c.end}", c.snippet[:160]
    return Text.assemble((f"[{c.number}]", "bold"), " ", c.title or c.doc_id, f" ({c.doc_id}, {where}{span}): ", text)


def print_sources(answer: Answer) -> None:
    warn = answer.refused or answer.degraded or answer.confidence == "low"
    console.print(Text(f"({describe(answer)})", style="yellow" if warn else "dim"))
    for c in answer.citations:
        console.print(source_line(c), soft_wrap=True)
    total = answer.timings_ms.get("total")
    console.print(Text(made_by(answer) + (f" · {total:.0f} ms" if total else ""), style="dim"))


def made_by(answer: Answer) -> str:
    """What wrote the text: the model and prompt, the evidence model, or nothing (a refusal)."""
    if answer.model in ("", "none"):
        return "no model called"
    if answer.prompt_version in ("", "-"):
        return answer.model
    return f"{answer.model} · prompt {answer.prompt_version}"


def register(app: typer.Typer) -> None:
    app.command()(ask)
