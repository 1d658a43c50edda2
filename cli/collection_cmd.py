"""`ragqa collection list/drop/reindex`: the collections behind the names, and re-indexing one
without downtime (``ingest.reindex``; names and aliases: ``retrieval.aliases``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, err_console, fail, print_json
from core.errors import IndexLocked, InvalidRequest, NotFound, RagqaError
from core.names import COLLECTION_RULE, is_collection_name
from core.settings import Settings
from ingest.reindex import ReindexReport, reindex_collection
from ingest.report import DocumentResult
from retrieval.index import VectorIndex
from state.audit import cli_principal

collection_app = typer.Typer(help="Collections: list them, drop one, re-index one without downtime.",
                             no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def collection_name(value: str) -> str:
    if not is_collection_name(value):
        raise typer.BadParameter(f"{value!r} is not a collection name: {COLLECTION_RULE}")
    return value


NameArg = Annotated[str, typer.Argument(help="The collection's name.", callback=collection_name)]


def describe(index: VectorIndex) -> list[dict[str, Any]]:
    """Each name callers use: the collection behind it, its points, documents and embedder."""
    rows = []
    for name in index.list_collections():
        physical = index.physical_name(name)
        stats = index.stats(physical)
        rows.append({"name": name, "physical": physical, "alias": physical != name, "points": stats.chunks,
                     "documents": stats.documents, "dense_size": stats.dense_size,
                     "embedder": index.collection_embedder(physical)})
    return rows


@collection_app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The collections by the names callers use: the physical collection behind each, its points
    (chunks), documents, vector size and the embedder that wrote it."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            rows = describe(parts.index)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json({"collections": rows})
        return
    table = Table(title=f"{len(rows)} collections")
    for column in ("name", "physical", "points", "documents", "dense", "embedder"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(v)) for v in (row["name"], row["physical"], row["points"], row["documents"],
                                                 row["dense_size"], row["embedder"] or "(not recorded)")))
    console.print(table)


@collection_app.command("drop")
def drop(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Really drop it: every document and chunk goes.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Drop a collection: the name, the physical collection behind it, every chunk. Needs --yes.

    What Redis keeps of its documents (answer records, feedback copies) is not erased: to erase that,
    `ragqa delete` each document first."""
    settings: Settings = ctx.obj
    if not yes:
        fail(InvalidRequest(f"dropping {name!r} deletes every document in it: add --yes to confirm"), as_json)
    try:
        with Components(settings) as parts:
            if not parts.index.collection_exists(name):
                raise NotFound(f"collection {name!r} does not exist")
            physical = parts.index.physical_name(name)
            chunks = parts.index.count(name)
            parts.index.drop_collection(name)
            parts.audit_trail().record(cli_principal(), "collection_drop", "cli collection drop", collection=name,
                                       target=physical)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json({"dropped": name, "physical": physical, "points": chunks})
    else:
        console.print(f"dropped {escape(repr(name))} ({escape(physical)}, {chunks} chunks)")


@collection_app.command("reindex")
def reindex(
    ctx: typer.Context,
    name: NameArg,
    grace: Annotated[float, typer.Option(
        "--grace", min=0, help="Seconds the old collection lives on after the switch, for questions "
        "already reading it.")] = 5.0,
    stored_text: Annotated[bool, typer.Option(
        "--stored-text", help="Rebuild every document from the text the index kept; read no file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a collection with the current settings (embedder, chunking) into a new physical collection
    while the old one answers, then switch the name over at once and drop the old one.

    Documents are read again from their files where those are still there, else rebuilt from the text
    the index kept. On the embedded store this needs the store: stop `ragqa serve` first, or run a
    Qdrant server (RAGQA_QDRANT__URL) to re-index while it answers."""
    settings: Settings = ctx.obj

    def told(result: DocumentResult) -> None:
        if not as_json and result.status == "failed":
            err_console.print(f"[red]failed[/] {escape(result.doc_id)}: {escape(result.reason or '')}")

    report: ReindexReport | None = None
    try:
        with Components(settings) as parts:
            try:
                report = reindex_collection(parts.pipeline, parts.index, name, grace_s=grace,
                                            read_files=not stored_text, on_result=told)
            finally:
                parts.audit_trail().record(cli_principal(), "collection_reindex", "cli collection reindex",
                                           collection=name, target=report.new if report else None,
                                           status="ok" if report else "error")
    except IndexLocked as exc:
        fail(IndexLocked(f"{exc.message}. A re-index of the embedded store runs in the process that holds it: "
                         "stop `ragqa serve` for it, or serve from a Qdrant server to re-index while answering"),
             as_json)
    except RagqaError as exc:
        fail(exc, as_json, exit_code=1)
    assert report is not None
    if as_json:
        print_json(report.to_dict())
        return
    console.print(f"re-indexed {escape(repr(name))}: {report.documents} documents ({len(report.from_files)} from "
                  f"their files, {len(report.from_index)} from the stored text), {report.chunks} chunks in "
                  f"{escape(report.new)}; {escape(report.old)} dropped ({report.seconds:.1f} s)")


def register(app: typer.Typer) -> None:
    app.add_typer(collection_app, name="collection")
