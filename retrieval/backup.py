"""Backups of one collection: a consistent copy in the engine's own format, and a manifest.

::

    DIR/
    ├── manifest.json     the collection, its physical name, the embedder that wrote it, its vector
    │                     size, documents and chunks, when, the engine, what the writer adds
    │                     (the chunker version), and the rows of each part of ``redis/`` when kept
    ├── collection/       Qdrant Edge: the collection's shard folder, copied while nothing writes it
    │                     (holes kept as holes); a Qdrant server: collection.snapshot, its snapshot
    └── redis/            only with ``ragqa backup --with-redis``: the collection's feedback,
                          experiments and audit entries (``state.backup`` writes and restores them)

A restore makes a new physical collection from the copy, checks its counts against the manifest,
and switches the name over to it (``retrieval.aliases``), as a re-index does: a collection that
still exists keeps answering until then, and is dropped after. The restored collection gets a fresh
version token, so no answer cached before is served from it.

This module copies the collection only. What Redis holds of it that nothing can rebuild is kept
beside it on request (``beside``: the CLI's ``--with-redis``, ``state.backup``); the rest is derived
(cached answers, keyed by the index version; rate limits) or spans every collection (API keys, job
records): back those up with Redis's own persistence (RDB snapshots or the AOF).

Example::

    manifest = backup_collection(index, "docs", Path("backups/docs-2026-12-08"), {"chunker_version": "2"})
    restore_collection(index, Path("backups/docs-2026-12-08"), as_name="docs")
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from core.errors import IndexUnavailable, InvalidRequest, NotFound
from core.names import check_collection
from retrieval.aliases import next_physical, switch_over
from retrieval.index import VectorIndex

log = structlog.get_logger(__name__)
MANIFEST_FILE = "manifest.json"
COPY_FOLDER = "collection"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class BackupManifest:
    """What a backup holds (``manifest.json``)."""

    collection: str
    physical: str
    engine: dict[str, Any]  # what the engine's export said of the copy (``CollectionAdmin.export_collection``)
    embedder: str | None
    dense_size: int
    documents: int
    chunks: int
    created_at: str
    writer: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT
    redis: dict[str, int] | None = None  # rows of each part of redis/; None: Redis was left out

    @classmethod
    def read(cls, folder: Path) -> BackupManifest:
        try:
            data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
            if int(data.get("format", 0)) != FORMAT:
                raise InvalidRequest(f"{folder / MANIFEST_FILE}: backup format {data.get('format')!r}, this "
                                     f"version reads {FORMAT}")
            return cls(**data)
        except FileNotFoundError as exc:
            raise NotFound(f"{folder} holds no backup (no {MANIFEST_FILE})") from exc
        except (OSError, ValueError, TypeError) as exc:
            raise InvalidRequest(f"{folder / MANIFEST_FILE} is unreadable: {exc}") from exc

    def write(self, folder: Path) -> None:
        tmp = folder / f"{MANIFEST_FILE}.tmp"
        data = asdict(self)
        if self.redis is None:
            del data["redis"]  # a backup without it reads as before, in a ragqa that predates the field
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST_FILE)  # written last: a folder without it is no backup


@dataclass(frozen=True, slots=True)
class Restored:
    collection: str
    physical: str
    replaced: str | None  # the collection the name stood for before, now dropped
    documents: int
    chunks: int


def backup_collection(index: VectorIndex, name: str, out: Path, writer: dict[str, Any] | None = None,
                      beside: Callable[[Path], dict[str, int]] | None = None) -> BackupManifest:
    """Copy collection ``name`` (what it stands for now) into the new folder ``out``, with its manifest.

    ``beside``, when given, writes more into ``out`` after the copy (the collection's Redis rows) and
    returns their counts, which the manifest keeps as ``redis``; it runs before the manifest is written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidRequest(f"{out} already exists and is not empty: back up into a new folder")
    if not index.collection_exists(name):
        raise NotFound(f"collection {name!r} does not exist")
    physical = index.physical_name(name, fresh=True)
    stats = index.stats(physical)
    out.mkdir(parents=True, exist_ok=True)
    engine = index.export_collection(physical, out / COPY_FOLDER)
    kept = beside(out) if beside is not None else None
    manifest = BackupManifest(name, physical, engine, index.collection_embedder(physical), stats.dense_size,
                              stats.documents, stats.chunks, datetime.now(UTC).isoformat(timespec="seconds"),
                              dict(writer or {}), redis=kept)
    manifest.write(out)
    log.info("backup.done", collection=name, physical=physical, folder=str(out), chunks=stats.chunks)
    return manifest


def restore_collection(index: VectorIndex, folder: Path, as_name: str | None = None, replace: bool = False,
                       grace_s: float = 0.0, sleep: Callable[[float], None] = time.sleep) -> Restored:
    """Make the backup in ``folder`` what ``as_name`` (default: the name it was taken under) stands for.

    A collection of that name is replaced only with ``replace``; it answers until the switch, and
    is dropped ``grace_s`` after it (``retrieval.aliases.switch_over``).
    """
    manifest = BackupManifest.read(folder)
    name = check_collection(as_name or manifest.collection)
    if name in index.aliases().values():
        raise InvalidRequest(f"{name!r} is the collection behind an alias: restore under the alias's name")
    exists = index.collection_exists(name)
    if exists and not replace:
        raise InvalidRequest(f"collection {name!r} exists: restore with --as another name, or --replace it")
    old = index.physical_name(name, fresh=True) if exists else None
    physical = next_physical(name, index.list_physical())
    index.import_collection(folder / COPY_FOLDER, physical, manifest.engine)
    try:
        stats = index.stats(physical)
        if (stats.documents, stats.chunks) != (manifest.documents, manifest.chunks):
            raise IndexUnavailable(f"the restored copy holds {stats.documents} documents and {stats.chunks} chunks, "
                                   f"the backup's manifest {manifest.documents} and {manifest.chunks}: not switched")
    except BaseException:
        index.drop_physical(physical)
        raise
    switch_over(index, name, physical, old, grace_s, sleep)
    log.info("restore.done", collection=name, physical=physical, replaced=old, chunks=stats.chunks)
    return Restored(name, physical, old, stats.documents, stats.chunks)
