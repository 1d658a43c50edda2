"""`ragqa audit`: the audit trail (who asked, uploaded, deleted or changed what), as a table or JSON lines."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, err_console, fail
from core.errors import InvalidRequest, RagqaError
from core.settings import Settings

_AGO = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
SHOWN_DOC_IDS = 3  # the table names a few documents; --json has them all


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``2h``, ``30m``, ``7d``, ``2w`` ago, or a date / time in ISO 8601 (local time unless it has an offset).

        >>> parse_since("2h", now=datetime(2026, 12, 1, 12, 0)).isoformat()
        '2026-12-01T10:00:00'
        >>> parse_since("2026-12-01T08:30").isoformat()
        '2026-12-01T08:30:00'
    """
    text = value.strip().lower()
    ago = _AGO.fullmatch(text)
    if ago:
        return (now or datetime.now()) - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidRequest(f"--since {value!r}: use a duration (90s, 30m, 2h, 7d, 2w) or a date "
                             "(2026-12-01, 2026-12-01T08:30)") from exc  # fmt: skip


def audit(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(
        help="From this time on: a duration ago (30m, 2h, 7d) or a date (2026-12-01; local time).")] = None,
    principal: Annotated[str | None, typer.Option(
        help="Only this principal: `key:ops-bot`, `user:ana`, or a bare name (any kind).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines (one entry a line) instead of a table.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write JSON lines to this file.")] = None,
) -> None:
    """Who asked, uploaded, deleted or changed what, oldest first (questions only with audit.include_questions)."""
    from state.audit import iter_audit

    settings: Settings = ctx.obj
    try:
        start = parse_since(since) if since else None
        with Components(settings) as parts:
            # The trail lives where job records do: the Redis that never evicts (redis.jobs_url, else redis.url).
            entries = iter_audit(parts.jobs_redis.client(), settings.redis.key_prefix, start, principal)
            if out is not None:
                count = _write_lines(entries, out)
            elif as_json:
                count = _write_lines(entries, None)
            else:
                _print_table(list(entries))
                return
    except RagqaError as exc:
        fail(exc, as_json=as_json)
    if out is not None:
        err_console.print(f"exported {count} audit entr{'y' if count == 1 else 'ies'} to {escape(str(out))}")


def _write_lines(entries: Any, out: Path | None) -> int:
    try:
        handle = out.open("w", encoding="utf-8") if out else sys.stdout
    except OSError as exc:
        raise InvalidRequest(f"cannot write {out}: {exc.strerror or exc}") from exc
    count = 0
    try:
        for entry in entries:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if out:
            handle.close()
    return count


def _print_table(entries: list[dict[str, Any]]) -> None:
    if not entries:
        console.print("No audit entries (with these filters).")
        return
    optional = [name for name in ("target", "question") if any(e[name] for e in entries)]
    table = Table(title=f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}")
    for column in ("time", "principal", "action", "route", "collection", "documents", "status", *optional):
        # Who and what stay whole on one line; the documents and the question wrap to fit.
        table.add_column(column, no_wrap=column in ("time", "principal", "action", "status"))
    for e in entries:
        docs = e["doc_ids"]
        shown = ", ".join(docs[:SHOWN_DOC_IDS]) + (f" (+{len(docs) - SHOWN_DOC_IDS})" if len(docs) > SHOWN_DOC_IDS
                                                   else "")  # fmt: skip
        when = datetime.fromtimestamp(e["time_ms"] / 1000).strftime("%F %T")
        row = [when, e["principal"], e["action"], e["route"], e["collection"] or "", shown, str(e["status"]),
               *(e[name] or "" for name in optional)]  # fmt: skip
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
