"""`ragqa ls` and `ragqa show`: the documents a collection holds, and one document (its text too).

They read the local store, as `GET /documents` and `GET /documents/{id}` read the server's, and
print the same fields (``api.documents.document_out``), so scripts can use either.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from api.documents import document_out, document_text
from bootstrap.components import Components
from cli.ingest_cmd import CollectionOpt, JsonOpt, parse_tags
from cli.output import console, fail, print_json
from core.errors import NotFound, RagqaError
from core.settings import Settings
from core.types import SearchFilters
from retrieval.index import DocumentInfo

PAGE = 500  # documents read per index call while listing


def ls(
    ctx: typer.Context,
    collection: CollectionOpt = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only documents with this key=value tag.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the documents of a collection: id, title, source, chunks, tags, ingest time."""
    settings: Settings = ctx.obj
    name = collection or settings.ingest.default_collection
    try:
        filters = SearchFilters(tags_all=tuple(parse_tags(tag or []).items()))
        with Components(settings) as parts:
            documents: list[DocumentInfo] = []
            while True:  # every page: a listing for people and scripts, not one screen of it
                page = parts.index.list_documents(name, None if filters.is_empty() else filters,
                                                  len(documents), PAGE)
                documents.extend(page.documents)
                if not page.documents or len(documents) >= page.total:
                    break
    except RagqaError as exc:
        fail(exc, as_json)
    rows = [document_out(d) for d in documents]
    if as_json:
        print_json({"collection": name, "total": len(rows), "documents": rows})
        return
    table = Table(title=f"{len(rows)} documents in {escape(repr(name))}")
    for column in ("doc_id", "title", "source", "chunks", "tags", "ingested"):
        table.add_column(column, overflow="fold")
    for row in rows:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(row["tags"].items()))
        ingested = row["ingested_at"].isoformat(timespec="seconds") if row["ingested_at"] else ""
        table.add_row(*(escape(str(v)) for v in (row["doc_id"], row["title"], row["source"], row["chunks"], tags,
                                                 ingested)))
    console.print(table)


def show(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="The document's id (see `ragqa ls`).")],
    collection: CollectionOpt = None,
    text: Annotated[bool, typer.Option("--text", help="Also print the document's text.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show one document: title, source, tags, chunks, content hash, ingest time (and its text)."""
    settings: Settings = ctx.obj
    name = collection or settings.ingest.default_collection
    try:
        with Components(settings) as parts:
            chunks = parts.index.document_chunks(name, doc_id)
        if not chunks:
            raise NotFound(f"document {doc_id!r} is not in collection {name!r}")
    except RagqaError as exc:
        fail(exc, as_json)
    detail: dict[str, Any] = document_out(DocumentInfo.from_chunks(chunks))
    if text:
        detail["text"] = document_text(chunks)
    if as_json:
        print_json(detail)
        return
    for key, value in detail.items():
        if key == "text":
            continue
        shown = ", ".join(f"{k}={v}" for k, v in sorted(value.items())) if isinstance(value, dict) else value
        console.print(Text(f"{key}: ", style="bold") + Text(str(shown if shown is not None else "")))
    if text:
        console.print(Text(detail["text"]), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("ls")(ls)
    app.command("show")(show)
