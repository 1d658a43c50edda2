"""`ragqa feedback export`: ratings of served answers as JSONL, for an eval set or fine-tuning."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from bootstrap.components import Components
from cli.output import err_console, fail
from core.errors import InvalidRequest, RagqaError
from core.settings import Settings

if TYPE_CHECKING:
    from state.feedback import ExportFormat

feedback_app = typer.Typer(help="Feedback on answers (POST /feedback).", no_args_is_help=True)


@feedback_app.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="`eval`: rows `ragqa eval answers --dataset` reads (every rating: gold "
                          "answers, corrections, known-wrong answers, the sources cited); `chat`: {messages} rows "
                          "for fine-tuning, sources in the user turn (up-rated only); `golden`: confirmed answers "
                          "with their evidence (up-rated only; `ragqa golden update` merges them into a golden set).")
    ] = "eval",
    rating: Annotated[str | None, typer.Option(help="Only `up` or only `down`.")] = None,
) -> None:
    """Export every feedback entry as JSON lines (oldest first)."""
    from state.feedback import export_rows

    settings: Settings = ctx.obj
    try:
        if fmt not in ("eval", "chat", "golden") or rating not in (None, "up", "down"):
            raise InvalidRequest("--format is eval, chat or golden; --rating is up or down")
        kind: ExportFormat = "chat" if fmt == "chat" else "golden" if fmt == "golden" else "eval"
        with Components(settings) as parts:
            client = parts.redis.client()
            try:
                handle = out.open("w", encoding="utf-8") if out else sys.stdout
            except OSError as exc:
                raise InvalidRequest(f"cannot write {out}: {exc.strerror or exc}") from exc
            count = 0
            try:  # a Redis failure arrives as StoreUnavailable (state.feedback translates it)
                for row in export_rows(client, settings.redis.key_prefix, kind, rating):
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                    count += 1
            finally:
                if out:
                    handle.close()
    except RagqaError as exc:
        fail(exc, as_json=False)
    err_console.print(f"exported {count} feedback row(s)" + (f" to {escape(str(out))}" if out else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(feedback_app, name="feedback")
