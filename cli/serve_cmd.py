"""`ragqa serve`: the HTTP API (uvicorn + FastAPI), in the foreground until Ctrl-C / SIGTERM.

One process: the embedded Qdrant store admits one, and it owns the in-process ingestion runner.
``--ask-once`` starts it, asks one question over HTTP, prints the answer and stops (a smoke
test that ends, used by the README's main command).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from cli.output import console, fail, print_json
from core.errors import RagqaError
from core.settings import Settings


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: api.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api.port, 8000).")] = None,
    ask_once: Annotated[
        str | None,
        typer.Option("--ask-once", metavar="QUESTION", help="Start, ask this over HTTP, print the answer, stop."),
    ] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="For --ask-once.")] = None,
    hash_key: Annotated[
        str | None,
        typer.Option("--hash-key", metavar="KEY",
                     help="Print the SHA-256 digest of an API key for RAGQA_API__API_KEYS_SHA256, and exit."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --ask-once: print the raw JSON.")] = False,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Allow binding beyond loopback with no API keys (api.insecure)."),
    ] = False,
) -> None:
    """Serve the API: /ask, /chat, /v1/chat/completions, /documents, /jobs, /feedback, /readyz, /metrics, /docs."""
    if hash_key is not None:
        from api.security import hash_key as digest

        typer.echo(digest(hash_key))
        raise typer.Exit(0)
    settings: Settings = ctx.obj
    if insecure:
        settings = settings.model_copy(update={"api": settings.api.model_copy(update={"insecure": True})})
    if ask_once is None:
        from api.server import run_server

        try:
            run_server(settings, host, port)
        except RagqaError as exc:
            fail(exc, as_json)
        return
    from api.server import ask_once as run_once

    try:
        result = run_once(settings, ask_once, collection)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(result)
        return
    answer = result["answer"]
    console.print(f"[bold]readyz[/]: {result['ready'].get('status')}")
    if "error" in answer:
        console.print(f"[red]error[/] ({answer['error']['code']}): {escape(answer['error']['message'])}")
        raise typer.Exit(1)
    # Document text and ids are data, never Rich markup ("[1]", "[/b].txt").
    console.print(Text.assemble(("Q", "bold"), f": {ask_once}\n", ("A", "bold"), f": {answer['text']}"),
                  soft_wrap=True)
    grounded = answer.get("grounded")
    notes = [answer.get("mode", ""),
             "low confidence: the documents may not answer this directly" if answer.get("confidence") == "low" else "",
             f"grounded {grounded:.0%}" if grounded is not None else "",
             f"degraded: {answer['degraded']}" if answer.get("degraded") else "",
             f"answered in {answer['timings_ms'].get('total', 0):.0f} ms"]
    console.print(Text("(" + " · ".join(n for n in notes if n) + ")", style="dim"))
    for c in answer["citations"]:
        quote = c.get("quote")
        span = f"chars {quote['start']}-{quote['end']}" if quote else f"chars {c['start']}-{c['end']}"
        text = '"' + " ".join(quote["text"].split()) + '"' if quote else c["snippet"][:160]
        console.print(Text.assemble("  ", (f"[{c['number']}]", "bold"), f" {c['title']} ({c['doc_id']}, {span}): ",
                                    text), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
