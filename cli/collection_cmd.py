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
        "--grace", min=0, max=600, help="Seconds the old collection lives on after the switch, for questions "
        "already reading it.")] = 5.0,
    stored_text: Annotated[bool, typer.Option(
        "--stored-text", help="Rebuild every document from the text the index kept; read no file.")] = False,
    server: Annotated[str | None, typer.Option(
        "--server", help="Ask the `ragqa serve` at this URL to re-index (it holds the embedded store). Without "
        "it, a server noted as holding the store is asked when the store is locked.")] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="RAGQA_API_KEY", help="Through a server: an admin API key, when it requires one.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild a collection with the current settings (embedder, chunking) into a new physical collection
    while the old one answers, then switch the name over at once and drop the old one.

    Documents are read again from their files where those are still there, else rebuilt from the text
    the index kept. When `ragqa serve` holds the embedded store, the server re-indexes it (with this
    command's chunking; a new embedder needs the server stopped) and this follows its progress."""
    settings: Settings = ctx.obj
    if server is None:
        try:
            report = _reindex_here(settings, name, grace, stored_text, as_json)
        except IndexLocked as exc:
            from api.server import noted_server

            server = noted_server(settings)
            if server is None:
                fail(IndexLocked(f"{exc.message}. No `ragqa serve` is noted as holding it: stop the process that "
                                 "does, or name the server with --server URL"), as_json)
        except RagqaError as exc:
            fail(exc, as_json, exit_code=1)
        else:
            print_summary(report.to_dict(), as_json)
            return
    _reindex_on_server(settings, server, name, grace, stored_text, api_key, as_json)


def _reindex_here(settings: Settings, name: str, grace: float, stored_text: bool, as_json: bool) -> ReindexReport:
    def told(result: DocumentResult) -> None:
        if not as_json and result.status == "failed":
            err_console.print(f"[red]failed[/] {escape(result.doc_id)}: {escape(result.reason or '')}")

    with Components(settings) as parts:
        index = parts.index  # IndexLocked here when a server holds the store: before anything else opens
        report: ReindexReport | None = None
        try:
            report = reindex_collection(parts.pipeline, index, name, grace_s=grace, read_files=not stored_text,
                                        on_result=told)
            return report
        finally:
            parts.audit_trail().record(cli_principal(), "collection_reindex", "cli collection reindex",
                                       collection=name, target=report.new if report else None,
                                       status="ok" if report else "error")


def _reindex_on_server(settings: Settings, url: str, name: str, grace: float, stored_text: bool,
                       api_key: str | None, as_json: bool) -> None:
    """Through ``ragqa serve`` (``cli.server_reindex``): its progress as it changes, then its report."""
    from cli.server_reindex import progress_line, reindex_request, reindex_through_server, task_error

    shown: list[str] = []

    def progress(task: dict[str, Any]) -> None:
        line = progress_line(task)
        if not as_json and (not shown or shown[-1] != line):
            err_console.print(f"{escape(url)}: {escape(line)}")
            shown.append(line)

    if not as_json:
        err_console.print(f"re-indexing {escape(repr(name))} in the server at {escape(url)} (it holds the store)")
    try:
        task = reindex_through_server(url, name, reindex_request(settings, grace, stored_text), api_key, progress)
    except RagqaError as exc:
        fail(exc, as_json, exit_code=1)
    if task["state"] != "done":
        fail(task_error(task, url), as_json, exit_code=1)
    print_summary({**task["report"], "server": url, "task_id": task["task_id"], "switched_at": task["switched_at"]},
                  as_json)


def print_summary(report: dict[str, Any], as_json: bool) -> None:
    """A re-index's report (``ReindexReport.to_dict``): as JSON, or one line."""
    if as_json:
        print_json(report)
        return
    console.print(f"re-indexed {escape(repr(report['collection']))}: {report['documents']} documents "
                  f"({report['from_files']} from their files, {report['from_index']} from the stored text), "
                  f"{report['chunks']} chunks in {escape(report['new'])}; {escape(report['old'])} dropped "
                  f"({report['seconds']:.1f} s)")


def register(app: typer.Typer) -> None:
    app.add_typer(collection_app, name="collection")
