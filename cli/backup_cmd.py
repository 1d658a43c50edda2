"""`ragqa backup NAME --out DIR [--with-redis]` and `ragqa restore DIR [--as NAME] [--without-redis]`: one
collection, copied in its engine's own format with a manifest (``retrieval.backup``), and with
``--with-redis`` its feedback, experiments and audit entries (``state.backup``)."""

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
from retrieval.backup import BackupManifest, backup_collection, restore_collection
from state.audit import cli_principal
from state.backup import StateBackup, StateClients, backup_state

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
    with_redis: Annotated[bool, typer.Option(
        "--with-redis", help="Also keep the collection's feedback, experiments and audit entries from Redis.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Back up a collection: a consistent copy (the embedded store's files while nothing writes, or a
    Qdrant server's snapshot) and a manifest; with --with-redis, what Redis holds of it that nothing
    rebuilds (cached answers, rate limits, usage, API keys and jobs are never included)."""
    settings: Settings = ctx.obj
    try:
        with Components(settings) as parts:
            beside = (lambda folder: backup_state(_clients(parts), name, folder)) if with_redis else None
            manifest = backup_collection(parts.index, name, out, {"chunker_version": CHUNKER_VERSION,
                                                                  "ragqa": _version()}, beside)
            parts.audit_trail().record(cli_principal(), "collection_backup", "cli backup", collection=name,
                                       target=str(out))
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json({"folder": str(out), "manifest": asdict(manifest)})
        return
    kept = "" if manifest.redis is None else "; from Redis " + ", ".join(f"{n} {k}" for k, n in manifest.redis.items())
    console.print(f"backed up {escape(repr(name))} ({escape(manifest.physical)}: {manifest.documents} documents, "
                  f"{manifest.chunks} chunks, embedder {escape(str(manifest.embedder))}{escape(kept)}) to "
                  f"{escape(str(out))}")


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
    without_redis: Annotated[bool, typer.Option(
        "--without-redis", help="Leave Redis alone, even when the backup holds the collection's Redis state.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup as a new physical collection, check its counts, and switch the name to it; then
    add back the Redis state it holds (rows already there are skipped, so a restore may run again)."""
    settings: Settings = ctx.obj
    try:
        manifest = BackupManifest.read(folder)
        # Checked before the store is touched: a backup cut short, or a name its rows do not name, stops here.
        state = None if without_redis or manifest.redis is None else StateBackup.open(
            folder, manifest.redis, manifest.collection, as_name or manifest.collection)
        with Components(settings) as parts:
            restored = restore_collection(parts.index, folder, as_name, replace=replace, grace_s=grace)
            redis = state.restore(_clients(parts)) if state is not None else None
            parts.audit_trail().record(cli_principal(), "collection_restore", "cli restore",
                                       collection=restored.collection, target=str(folder))
    except RagqaError as exc:
        fail(exc, as_json)
    if as_json:
        print_json(asdict(restored) | {"redis": redis})
        return
    replaced = f", replacing {escape(restored.replaced)}" if restored.replaced else ""
    console.print(f"restored {escape(repr(restored.collection))} ({escape(restored.physical)}: {restored.documents} "
                  f"documents, {restored.chunks} chunks{replaced})")
    if redis is not None:
        console.print("from Redis: " + "; ".join(f"{part} " + ", ".join(f"{n} {what}" for what, n in done.items())
                                                 for part, done in redis.items()))


def _clients(parts: Components) -> StateClients:
    return StateClients(parts.redis.client(), parts.jobs_redis.client(), parts.settings.redis.key_prefix)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
