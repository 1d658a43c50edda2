"""`ragqa usage`: what answers cost, per caller (API key) and collection, over the last days (UTC),
from the counters the API keeps in Redis (``state.usage``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, fail, print_json
from core.errors import RagqaError
from core.settings import Settings
from state.audit import principal_matches
from state.usage import read_usage


def usage(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Option(
        "--key", help="Only this caller: an API key's name, or a label such as user:ana.")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Only this collection.")] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=3660, help="Days back, today (UTC) included.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Answers (cache hits among them), LLM tokens and model time per caller and collection."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            rows = read_usage(parts.jobs_redis.client(), settings.redis.key_prefix, days)
    except RagqaError as exc:
        fail(exc, as_json)
    rows = [r for r in rows if (key is None or principal_matches(r.caller, key) or r.caller == f"key:{key}")
            and (collection is None or r.collection == collection)]  # fmt: skip
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table = Table("caller", "collection", "answers", "cached", "tokens", "prompt", "completion", "model time s",
                  title=f"usage over {days} day(s), UTC")
    for r in rows:
        c = r.counts
        table.add_row(escape(r.caller), escape(r.collection), str(c["answers"]), str(c["cached"]), str(c["tokens"]),
                      str(c["prompt_tokens"]), str(c["completion_tokens"]), f"{c['model_ms'] / 1000:.2f}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)
