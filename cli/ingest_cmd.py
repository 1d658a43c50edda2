"""`ragqa ingest`, `ragqa delete` and `ragqa stats`: the bulk ingestion CLI.

Parses arguments, builds the parts and shows progress; the logic lives in ``ingest/``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from bootstrap.components import Components
from cli.output import console, fail, print_json
from core.access import parse_acl
from core.errors import IndexLocked, InvalidRequest, RagqaError
from core.logging import logs_to
from core.names import COLLECTION_RULE, is_collection_name, parse_tags
from core.settings import Settings
from ingest.report import DocumentResult, IngestReport
from ingest.sources import SourceDocument, iter_sources
from ingest.sync import remove_vanished
from state.audit import cli_principal
from state.erasure import erase_document


def check_collection_option(name: str | None) -> str | None:
    """The shared rule for collection names, checked as the command line is read: before any model loads."""
    if name is not None and not is_collection_name(name):
        raise typer.BadParameter(f"{name!r} is not a collection name: {COLLECTION_RULE}")
    return name


CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="Collection name (default: docs).",
                                                   callback=check_collection_option)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOpt = None,
    glob: Annotated[str, typer.Option(help="Only files whose name matches this pattern.")] = "*",
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into sub-folders.")] = True,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", help="Metadata key=value, repeatable, merged onto a document's tags (key= removes one). "
        "Without it, documents already indexed keep theirs.")] = None,
    clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove the documents' tags.")] = False,
    acl: Annotated[list[str] | None, typer.Option(
        "--acl", help="Who may read the documents: user:NAME or group:NAME, repeatable. Without it, documents "
        "already indexed keep their readers; new ones are readable by everyone who may use the collection.")] = None,
    sync: Annotated[bool, typer.Option(
        "--sync", help="Also delete the documents ingested from under these folders whose file is gone, so "
        "the collection equals the folders.")] = False,
    batch_size: Annotated[int | None, typer.Option(help="Chunks per embedding batch.")] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Enqueue a job for `ragqa worker` instead.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --queue or --server: follow the job to its end.")] = False,
    server: Annotated[str | None, typer.Option(
        "--server", help="Upload through a running `ragqa serve` at this URL (e.g. http://127.0.0.1:8000): the "
        "way to add documents while it holds the embedded store.")] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="RAGQA_API_KEY", help="With --server: the server's API key, when it requires one.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest documents (text, markdown, HTML, PDF, office files, spreadsheets, mail, e-books, images): parse, chunk,
    embed, index."""
    settings: Settings = ctx.obj
    if batch_size:
        embedding = settings.embedding.model_copy(update={"batch_size": batch_size})
        settings = settings.model_copy(update={"embedding": embedding})
    name = collection or settings.ingest.default_collection
    if queue and server:
        fail(InvalidRequest("give --queue or --server, not both"), as_json)
    if clear_tags and tag:
        fail(InvalidRequest("give --tag or --clear-tags, not both"), as_json)
    if sync and (queue or server):
        fail(InvalidRequest("--sync works on a local ingest (it deletes from the store it opens); for a "
                            "server, delete with DELETE /documents/{doc_id}"), as_json)
    try:
        tags = {} if clear_tags else parse_tags(tag) if tag else None
        access = parse_acl(acl) if acl else None
    except RagqaError as exc:
        fail(exc, as_json)
    if clear_tags and (queue or server):
        fail(InvalidRequest("--clear-tags works on a local ingest; through a server, remove each tag with "
                            "--tag key="), as_json)
    if queue:
        enqueue(settings, paths, name, glob, recursive, tags, wait, as_json, access)
        return
    if server:
        upload(server, api_key, paths, name, glob, recursive, tags, wait, as_json, access)
        return
    try:
        sources = [replace(s, acl=access) for s in iter_sources(paths, glob, recursive, tags, replace_tags=clear_tags)]
        with Components(settings) as parts:
            report = _run(parts, sources, name, show_progress=not as_json)
            if sync:
                report.removed = remove_vanished(parts.index, parts.index, name, paths)
                client = parts.redis.client()  # what Redis keeps of their text goes with them
                for doc_id in report.removed:
                    erase_document(client, settings.redis.key_prefix, name, doc_id)
            _audit_ingest(parts, settings, "sync" if sync else "ingest", name, report)
    except IndexLocked as exc:
        from api.server import served_url

        fail(IndexLocked(f"{exc.message}. If `ragqa serve` holds it, ingest through the server instead: "
                         f"ragqa ingest --server {served_url(settings)} "
                         f"{' '.join(str(p) for p in paths)}"), as_json)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(report.to_dict())
    else:
        _print_report(report)
    raise typer.Exit(1 if report.failures else 0)


def upload(server: str, api_key: str | None, paths: list[Path], name: str, glob: str, recursive: bool,
           tags: dict[str, str] | None, wait: bool, as_json: bool, acl: tuple[str, ...] | None = None) -> None:
    """`--server`: the files go to a running server, keeping the doc_ids a local ingest would give them."""
    from cli.server_ingest import ingest_through_server, local_rejections

    try:
        sources = [replace(s, acl=acl) for s in iter_sources(paths, glob, recursive, tags)]
        _check_unique(sources)
        sources, rejected = local_rejections(sources)
        jobs = ingest_through_server(server, sources, name, tags, api_key, wait)
    except RagqaError as exc:
        fail(exc, as_json)
    failed = sum(job["counts"]["failed"] for job in jobs) + len(rejected)
    if as_json:
        print_json({"jobs": jobs, "rejected": rejected} if rejected else jobs[0] if len(jobs) == 1 else jobs)
    else:
        for item in rejected:
            console.print(f"  [red]✗[/] {escape(item['doc_id'])} ({item['error_code']}): {escape(item['reason'])} "
                          "(not sent)")
        for job in jobs:
            counts = ", ".join(f"{state} {n}" for state, n in job["counts"].items() if n)
            console.print(f"job [bold]{job['job_id']}[/] on {escape(server)}: [bold]{job['state']}[/] ({counts})")
            for doc in job["documents"]:
                if doc["state"] == "failed":
                    reason = escape(str(doc["reason"]))
                    console.print(f"  [red]✗[/] {escape(doc['doc_id'])} ({doc['error_code']}): {reason}")
        if not wait:
            console.print("follow it: ragqa ingest ... --server URL --wait, or GET /jobs/<id> on the server")
    raise typer.Exit(1 if failed else 0)


def _check_unique(sources: list[SourceDocument]) -> None:
    seen: dict[str, str] = {}
    for src in sources:
        if src.doc_id in seen:
            raise InvalidRequest(f"two files would share the doc_id {src.doc_id!r}: {seen[src.doc_id]} and "
                                 f"{src.source}; ingest those roots separately")
        seen[src.doc_id] = src.source


def enqueue(settings: Settings, paths: list[Path], name: str, glob: str, recursive: bool,
            tags: dict[str, str] | None, wait: bool, as_json: bool, acl: tuple[str, ...] | None = None) -> None:
    """`--queue`: one job, one task per file on the bulk queue; the workers read the files where they are."""
    from cli.jobs_cmd import follow, print_job
    from jobs.spec import JobFile, JobSpec, new_job_id
    from workers.app import create_celery_app
    from workers.runner import CeleryJobRunner

    try:
        sources = list(iter_sources(paths, glob, recursive, tags))
        _check_unique(sources)
        assert all(src.path is not None for src in sources)
        files = tuple(JobFile(s.doc_id, s.name, s.path, s.tags, s.source, s.root, acl=acl)  # type: ignore[arg-type]
                      for s in sources)
        with Components(settings) as parts:
            store = parts.job_store()
            job_id = new_job_id()
            runner = CeleryJobRunner(create_celery_app(settings, parts.redis), settings.workers.bulk_queue, store)
            try:
                runner.submit(JobSpec(job_id, name, files, owns_files=False))
            finally:
                runner.close()  # the broker's connections go before the (maybe embedded) Redis stops
            parts.audit_trail().record(
                cli_principal(), "ingest", "cli ingest --queue", collection=name, doc_ids=[f.doc_id for f in files],
                target=job_id, status="queued")
            if not as_json:
                console.print(f"queued job [bold]{job_id}[/]: {len(files)} documents into {escape(repr(name))} "
                              f"(follow it: ragqa jobs show {job_id} --wait)")
            job = follow(store, job_id) if wait and not as_json else store.get(job_id)
            while wait and as_json and job.state in ("queued", "running"):
                time.sleep(0.5)
                job = store.get(job_id)
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(job.to_dict())
    elif wait:
        print_job(job)
    raise typer.Exit(1 if wait and job.counts()["failed"] else 0)


def _audit_ingest(parts: Components, settings: Settings, action: str, name: str, report: IngestReport) -> None:
    """The documents this ingest added, updated or removed, in the audit trail."""
    changed = [r.doc_id for r in report.results if r.status in ("added", "updated")]
    removed = list(report.removed)
    parts.audit_trail().record(
        cli_principal(), action, f"cli {action}", collection=name, doc_ids=changed + removed,
        status="error" if report.failures else "ok")


def _run(parts: Components, sources: list[SourceDocument], name: str, show_progress: bool) -> IngestReport:
    if not show_progress:
        return parts.pipeline.ingest(sources, name)
    # The model load takes most of a small ingest: say so, instead of a bar stuck at 0.
    with console.status("loading the embedding model and the index..."):
        pipeline = parts.pipeline
        pipeline.warm()
        parts.embedder.embed_documents(["warm up"])
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    # Log lines printed during the live display go above it, through Rich's stderr proxy.
    with Progress(*columns, console=console, transient=False, redirect_stderr=True) as progress, \
            logs_to(sys.stderr):
        files = progress.add_task("files", total=len(sources))
        # Its total is the chunks of the files parsed so far: unknown ("0/?") until the first file is
        # parsed (the parsing sandbox takes a few seconds to start), exact once the last one is.
        chunks = progress.add_task("chunks embedded (parsing the first files...)", total=None)
        parsed: set[str] = set()  # parsed, or failed before: either way no longer waiting to be parsed

        def mark_parsed(doc_id: str, name: str) -> None:
            parsed.add(doc_id)
            progress.update(files, description=f"files (parsed {escape(name)})"
                            if len(parsed) < len(sources) else "files (all parsed)")

        def on_parsed(source: SourceDocument, n: int) -> None:
            progress.update(chunks, total=(progress.tasks[chunks].total or 0) + n, description="chunks embedded")
            mark_parsed(source.doc_id, source.name)

        def on_result(result: DocumentResult) -> None:
            progress.advance(files)
            if result.status == "failed":
                progress.console.print(f"[red]failed[/] {escape(result.doc_id)}: {escape(str(result.reason))}")
                if result.doc_id not in parsed:
                    mark_parsed(result.doc_id, result.doc_id)

        return pipeline.ingest(sources, name, on_result=on_result, on_parsed=on_parsed,
                               on_embedded=lambda n: progress.advance(chunks, n))


class RateColumn(ProgressColumn):
    """Items per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f}/s" if speed else "", style="progress.data.speed")


def _print_report(report: IngestReport) -> None:
    table = Table(title=escape(f"ingest into {report.collection!r}"))
    for column in ("added", "updated", "unchanged", "failed", "chunks written", "seconds", "chunks/s"):
        table.add_column(column, justify="right")
    counts = report.counts()
    table.add_row(str(counts["added"]), str(counts["updated"]), str(counts["unchanged"]),
                  str(counts["failed"]), str(report.chunks_written), f"{report.seconds:.1f}",
                  f"{report.chunks_per_second:.1f}")
    console.print(table)
    for failure in report.failures:
        console.print(f"[red]✗[/] {escape(failure.doc_id)}: {escape(str(failure.reason))}")
    for doc_id, chunks in report.removed.items():
        console.print(f"[yellow]−[/] {escape(doc_id)}: its file is gone; deleted ({chunks} chunks)")


def delete(
    ctx: typer.Context,
    doc_id: Annotated[str | None, typer.Argument(help="The document's id.")] = None,
    source: Annotated[
        Path | None, typer.Option("--source", help="Delete the documents ingested from this file.")
    ] = None,
    collection: CollectionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete every chunk of a document, by doc_id or by source path."""
    settings: Settings = ctx.obj
    name = collection or settings.ingest.default_collection
    try:
        if (doc_id is None) == (source is None):
            raise InvalidRequest("give either a DOC_ID or --source PATH")
        with Components(settings) as parts:
            if doc_id is not None:
                doc_ids = [doc_id]
            else:
                assert source is not None
                doc_ids = parts.index.doc_ids_for_source(name, str(source.resolve()))
            removed = {d: parts.index.delete_document(name, d) for d in doc_ids}
            # What Redis holds of their text goes too: cached answers, answer records, feedback copies.
            client = parts.redis.client()
            erased = {d: erase_document(client, settings.redis.key_prefix, name, d).to_dict()
                      for d, n in removed.items() if n}
            parts.audit_trail().record(
                cli_principal(), "delete", "cli delete", collection=name, doc_ids=[d for d, n in removed.items() if n])
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json({"collection": name, "deleted": removed, "erased": erased})
    elif not removed or not any(removed.values()):
        console.print(f"nothing to delete in {escape(repr(name))}")
    else:
        for d, n in removed.items():
            purged = erased.get(d, {})
            console.print(f"deleted {escape(d)}: {n} chunks; purged {purged.get('cached_answers', 0)} cached "
                          f"answers, {purged.get('answer_records', 0)} answer records, "
                          f"{purged.get('feedback_rows', 0)} feedback rows' copies of its text")
    raise typer.Exit(0 if any(removed.values()) else 1)


def stats(ctx: typer.Context, collection: CollectionOpt = None, as_json: JsonOpt = False) -> None:
    """Documents, chunks and store size of a collection."""
    settings: Settings = ctx.obj
    name = collection or settings.ingest.default_collection
    try:
        with Components(settings) as parts:
            result = parts.index.stats(name)
            size = parts.index.storage_bytes()
    except RagqaError as exc:
        fail(exc, as_json)
    data = {"collection": name, "documents": result.documents, "chunks": result.chunks,
            "dense_size": result.dense_size, "store_bytes": size}
    if as_json:
        print_json(data)
        return
    table = Table(title=escape(f"collection {name!r}"))
    for key in data:
        table.add_column(key.replace("_", " "), justify="right")
    table.add_row(*(escape(str(v)) if v is not None else "-" for v in data.values()))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(delete)
    app.command()(stats)
