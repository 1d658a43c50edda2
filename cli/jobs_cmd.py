"""`ragqa jobs`: list ingestion jobs, show one (optionally following it), cancel one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, fail, print_json
from core.errors import RagqaError
from core.settings import Settings
from jobs.records import FINAL_DOC_STATES, Job
from jobs.store import JobStore

T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
JobArg = Annotated[str, typer.Argument(help="The job's id.")]
NO_JOBS_HINT = ("No ingestion jobs. Jobs come from uploads (POST /documents, the widget's server), "
                "`ragqa ingest --queue` and `ragqa ingest --server`; a local `ragqa ingest` runs in this "
                "process and reports as it goes, so it leaves no job (see `ragqa stats` and `ragqa ls`).")
jobs_app = typer.Typer(help="Ingestion jobs: list, show, follow, cancel.", no_args_is_help=False)


def on_store(settings: Settings, as_json: bool, action: Callable[[JobStore], T]) -> T:
    """Runs ``action`` on the job store; a failure is printed the CLI's way and exits."""
    try:
        with Components(settings) as parts:
            return action(parts.job_store())
    except RagqaError as exc:
        fail(exc, as_json)


def finished(job: Job) -> int:
    return sum(1 for d in job.documents if d.state in FINAL_DOC_STATES)


def follow(store: JobStore, job_id: str, interval_s: float = 0.5) -> Job:
    """Shows the job's progress until it is over; Ctrl-C stops watching, not the job."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[chunks]} chunks"))
    job = store.get(job_id)
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(f"job {job_id[:8]}", total=len(job.documents), chunks=0)
        while True:
            progress.update(bar, completed=finished(job), chunks=job.chunks_written)
            if job.state not in ("queued", "running"):
                return job
            time.sleep(interval_s)
            job = store.get(job_id)


def print_job(job: Job) -> None:
    counts = job.counts()
    console.print(f"job [bold]{job.job_id}[/] in {escape(repr(job.collection))}: [bold]{job.state}[/], "
                  f"{finished(job)}/{len(job.documents)} documents, {job.chunks_written} chunks written")
    console.print("  " + ", ".join(f"{state} {n}" for state, n in counts.items() if n))
    for doc in job.documents:
        if doc.state == "failed":
            console.print(f"  [red]✗[/] {escape(doc.doc_id)} ({doc.error_code}): {escape(str(doc.reason))}")


@jobs_app.callback(invoke_without_command=True)
def list_jobs(ctx: typer.Context, limit: Annotated[int, typer.Option(help="How many.")] = 20,
              as_json: JsonOpt = False) -> None:
    """The latest jobs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    jobs = on_store(ctx.obj, as_json, lambda store: store.recent(limit))
    if as_json:
        print_json([{k: v for k, v in j.to_dict().items() if k != "documents"} for j in jobs])
        return
    if not jobs:
        console.print(NO_JOBS_HINT)
        return
    table = Table(title="ingestion jobs")
    for column in ("job", "collection", "state", "documents", "failed", "chunks", "created"):
        table.add_column(column)
    for j in jobs:
        created = time.strftime("%F %T", time.localtime(j.created_at))
        table.add_row(j.job_id, escape(j.collection), j.state, f"{finished(j)}/{len(j.documents)}",
                      str(j.counts()["failed"]), str(j.chunks_written), created)
    console.print(table)


@jobs_app.command("show")
def show(ctx: typer.Context, job_id: JobArg,
         wait: Annotated[bool, typer.Option("--wait", help="Follow it with a progress bar until it ends.")] = False,
         as_json: JsonOpt = False) -> None:
    """One job's state and its documents' progress; exit 1 when any document failed."""
    job = on_store(ctx.obj, as_json, lambda store: follow(store, job_id) if wait else store.get(job_id))
    if as_json:
        print_json(job.to_dict())
    else:
        print_job(job)
    raise typer.Exit(1 if job.counts()["failed"] else 0)


@jobs_app.command("cancel")
def cancel(ctx: typer.Context, job_id: JobArg, as_json: JsonOpt = False) -> None:
    """Cancel a job: documents not started are skipped; those already indexed stay."""
    job = on_store(ctx.obj, as_json, lambda store: store.request_cancel(job_id))
    if as_json:
        print_json(job.to_dict())
    else:
        print_job(job)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
