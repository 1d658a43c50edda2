"""`ragqa sync PATH...`: make a collection equal to folders: new files added, changed ones updated,
documents whose file is gone deleted (`ragqa ingest PATH --sync`); `--dry-run` says what it would do."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bootstrap.components import Components
from cli.ingest_cmd import CollectionOpt, JsonOpt, ingest
from cli.output import console, fail, print_json
from core.errors import RagqaError
from core.settings import Settings
from ingest.sources import iter_sources
from ingest.sync import indexed_documents, vanished


def sync(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="The folders the collection should equal.")],
    collection: CollectionOpt = None,
    glob: Annotated[str, typer.Option(help="Only files whose name matches this pattern.")] = "*",
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into sub-folders.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change; change nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make a collection equal to folders: add new files, update changed ones, delete the gone."""
    if not dry_run:
        ingest(ctx, paths, collection, glob, recursive, tag=None, clear_tags=False, acl=None, sync=True,
               batch_size=None, queue=False, wait=False, server=None, api_key=None, as_json=as_json)
        return
    settings: Settings = ctx.obj
    name = collection or settings.ingest.default_collection
    try:
        sources = list(iter_sources(paths, glob, recursive))
        with Components(settings) as parts:
            indexed = {d.doc_id for d in indexed_documents(parts.index, name)}
            gone = [d.doc_id for d in vanished(parts.index, name, paths)]
    except RagqaError as exc:
        fail(exc, as_json)
    plan = {"collection": name, "add": [s.doc_id for s in sources if s.doc_id not in indexed],
            "check": [s.doc_id for s in sources if s.doc_id in indexed], "remove": gone}
    if as_json:
        print_json(plan)
        return
    console.print(f"sync {escape(repr(name))} (dry run): {len(plan['add'])} to add, {len(plan['check'])} already "
                  f"indexed (each updated if its text changed), {len(gone)} to delete (file gone)")
    for doc_id in plan["add"]:
        console.print(f"  [green]+[/] {escape(doc_id)}")
    for doc_id in gone:
        console.print(f"  [red]−[/] {escape(doc_id)}")


def register(app: typer.Typer) -> None:
    app.command()(sync)
