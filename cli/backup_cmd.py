"""`ragqa backup NAME --out DIR` and `ragqa restore DIR [--as NAME]`: one collection, copied in its
engine's own format with a manifest (``retrieval.backup``). Redis is not part of it (see there)."""

from __future__ import annotations

from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bootstrap.components import Components
from cli.collection_cmd import NameArg, collection_name
from cli.output import console, fail, print_json
from core.errors import RagqaError
from core.settings import Settings
from ingest.pipeline import CHUNKER_VERSION
from retrieval.backup import backup_collection, restore_collection
from state.audit import cli_principal

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _version() -> str:
    try:
        return metadata.version("ragqa")
    except metadata.PackageNotFoundError:
        return "unknown"


def backup(
    ctx: typer.Context,
    name: NameArg,
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) folder for the backup.")],
    as_json: JsonOpt = False,
) -> None:
    """Back up a collection: a consistent copy (the embedded store's files while nothing writes, or a
    Qdrant server's snapshot) and a manifest. Redis (feedback, audit, keys, jobs) is not included."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            manifest = backup_collection(parts.index, name, out, {"chunker_version": CHUNKER_VERSION,
                                                                  "ragqa": _version()})
            parts.audit_trail().record(cli_principal(), "collection_backup", "cli backup", collection=name,
                                       target=str(out))
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json({"folder": str(out), "manifest": asdict(manifest)})
        return
    console.print(f"backed up {escape(repr(name))} ({escape(manifest.physical)}: {manifest.documents} documents, "
                  f"{manifest.chunks} chunks, embedder {escape(str(manifest.embedder))}) to {escape(str(out))}")


def restore(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="A folder `ragqa backup` wrote.")],
    as_name: Annotated[str | None, typer.Option(
        "--as", help="Restore under this name (default: the name it was backed up under).",
        callback=lambda v: collection_name(v) if v is not None else None)] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace a collection of that name (it answers until the switch).")] = False,
    grace: Annotated[float, typer.Option(
        "--grace", min=0, help="With --replace: seconds the replaced collection lives on after the switch.")] = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup as a new physical collection, check its counts, and switch the name to it."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            restored = restore_collection(parts.index, folder, as_name, replace=replace, grace_s=grace)
            parts.audit_trail().record(cli_principal(), "collection_restore", "cli restore",
                                       collection=restored.collection, target=str(folder))
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(asdict(restored))
        return
    replaced = f", replacing {escape(restored.replaced)}" if restored.replaced else ""
    console.print(f"restored {escape(repr(restored.collection))} ({escape(restored.physical)}: {restored.documents} "
                  f"documents, {restored.chunks} chunks{replaced})")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
