"""The collections of a Qdrant Edge store behind their names: aliases, drops, copies for backups.

A mixin of ``EdgeIndex`` (kept apart so that module stays one engine adapter of a readable size);
it uses the index's own mutex, manifests, shards and version tokens, named by ``_EdgeHost``. The
alias table is a file of the store (``retrieval.aliases``), read when the store opens (one process
holds it) and replaced whole under the index's mutex.

Example::

    index = EdgeIndex(Path("data/qdrant"))
    index.switch_alias("docs", "docs__v2")           # readers of "docs" now read docs__v2
    index.export_collection("docs__v2", Path("backup/collection"))
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from qdrant_edge import EdgeShard

from core.errors import InvalidRequest, NotFound
from core.names import check_collection
from retrieval.aliases import AliasTable, logical_names, write_alias_file
from retrieval.edge_store import (
    Manifests,
    build_collection,
    collection_folder,
    copy_sparse,
    list_collection_names,
    read_manifest,
    remove_collection,
)
from retrieval.versions import ABSENT, VersionTokens

T = TypeVar("T")
ENGINE = "qdrant-edge"  # what a copy made here says it is (a backup's manifest)


class _EdgeHost(Protocol):
    """What the mixin needs of ``EdgeIndex``."""

    _root: Path
    _mutex: threading.Lock
    _shards: dict[str, EdgeShard]
    _manifests: Manifests
    _dirty: set[str]
    _versions: VersionTokens
    _aliases: AliasTable
    _optimize_on_close: bool

    def _ensure_open(self) -> None: ...

    def _call(self, what: str, fn: Callable[[], T], where: Path | None = None) -> T: ...

    def aliases(self) -> dict[str, str]: ...

    def drop_physical(self, physical: str) -> None: ...

    def _write_aliases(self, table: dict[str, str]) -> None: ...

    def _drop_folder(self, physical: str) -> None: ...


class EdgeCollections:
    """``VectorIndex``'s collection roles for ``EdgeIndex``: names, aliases, drops, copies."""

    def physical_name(self: _EdgeHost, name: str, fresh: bool = False) -> str:
        return self._aliases.resolve(name)  # the table is this process's alone: never stale

    def cached_physical_name(self: _EdgeHost, name: str) -> str | None:
        return self._aliases.resolve_cached(name)

    def aliases(self: _EdgeHost) -> dict[str, str]:
        self._ensure_open()
        return dict(self._aliases.get())

    def list_physical(self: _EdgeHost) -> list[str]:
        self._ensure_open()
        return list_collection_names(self._root)

    def list_collections(self: _EdgeHost) -> list[str]:
        self._ensure_open()
        return logical_names(list_collection_names(self._root), self._aliases.get())

    def switch_alias(self: _EdgeHost, name: str, physical: str) -> None:
        check_collection(name)
        with self._mutex:
            self._ensure_open()
            table = dict(self._aliases.get())
            if physical in table:
                raise InvalidRequest(f"{physical!r} is itself an alias: point {name!r} at a collection")
            if self._manifests.get(physical) is None:
                raise NotFound(f"collection {physical!r} does not exist")
            table[name] = physical
            write_alias_file(self._root, table)
            self._aliases.set(table)

    def drop_collection(self: _EdgeHost, name: str) -> None:
        """Drop what ``name`` names: an alias with its target (and a plain collection it shadowed), or a
        collection with the aliases pointing at it. Aliases go first: no name resolves to a dropped folder."""
        table = self.aliases()
        target = table.get(name)
        if target is None:
            self.drop_physical(name)
            return
        self._write_aliases({a: t for a, t in table.items() if a != name and t != target})
        self._drop_folder(target)
        self._drop_folder(name)

    def drop_physical(self: _EdgeHost, physical: str) -> None:
        table = self.aliases()
        if physical in table.values():
            self._write_aliases({a: t for a, t in table.items() if t != physical})
        self._drop_folder(physical)

    def _write_aliases(self: _EdgeHost, table: dict[str, str]) -> None:
        with self._mutex:
            self._ensure_open()
            write_alias_file(self._root, table)
            self._aliases.set(table)

    def _drop_folder(self: _EdgeHost, physical: str) -> None:
        folder = collection_folder(self._root, physical)
        with self._mutex:
            self._ensure_open()
            shard = self._shards.pop(physical, None)
            if shard is not None:
                self._call("close a collection", shard.close, folder)
            self._manifests.forget(physical)
            self._dirty.discard(physical)
            remove_collection(folder)
            self._versions.set(physical, ABSENT)

    # -- copies (``ragqa backup`` and ``ragqa restore``) ------------------------------------

    def export_collection(self: _EdgeHost, physical: str, folder: Path) -> dict[str, Any]:
        """Copy the collection into ``folder`` (which must not exist) while nothing writes it.

        The store's lock keeps every other process out; here, under the index's mutex, the shard is
        flushed and closed (every write on disk, its WAL released) and reopened on its next use.
        """
        source = collection_folder(self._root, physical)
        with self._mutex:
            self._ensure_open()
            if self._manifests.get(physical) is None:
                raise NotFound(f"collection {physical!r} does not exist")
            shard = self._shards.pop(physical, None)
            if shard is not None:
                if self._optimize_on_close and physical in self._dirty:
                    self._call("optimize a collection", shard.optimize, source)
                    self._dirty.discard(physical)
                self._call("flush a collection", shard.flush, source)
                self._call("close a collection", shard.close, source)
            copy_sparse(source, folder)
        return {"engine": ENGINE}

    def import_collection(self: _EdgeHost, folder: Path, physical: str, about: dict[str, Any]) -> None:
        """Make collection ``physical`` from a copy ``export_collection`` wrote, with a fresh version token
        (answers cached under the copied one are never served from it)."""
        if about.get("engine") != ENGINE:
            raise InvalidRequest(f"this backup was taken from {about.get('engine')!r}, not from an embedded "
                                 "Qdrant Edge store: restore it where it came from")
        manifest = read_manifest(folder)
        if manifest is None:
            raise InvalidRequest(f"{folder} holds no ragqa collection")
        with self._mutex:
            self._ensure_open()
            if collection_folder(self._root, physical).exists():
                raise InvalidRequest(f"collection {physical!r} already exists")
            build_collection(self._root, physical, manifest, lambda tmp: copy_sparse(folder, tmp))
            self._manifests.put(physical, manifest)
        self._versions.bump(physical)
