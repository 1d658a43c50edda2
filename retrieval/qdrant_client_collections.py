"""The collections of a Qdrant server (or local mode) behind their names: aliases, drops, snapshots.

A mixin of ``QdrantClientIndex`` (kept apart so that module stays one engine adapter of a readable
size); it uses the index's client, call plumbing and caches, named by ``_ClientHost``. Aliases are
Qdrant's own (``retrieval.aliases``): switched in one ``update_collection_aliases`` request, read
back at most ``qdrant.version_ttl_s`` late by other processes. Copies for backups are Qdrant's
collection snapshots, moved over its REST API (qdrant-client creates them but neither downloads nor
uploads them); local mode has no snapshots.

Example::

    index = QdrantClientIndex.for_server(QdrantSettings(url="http://qdrant:6333"))
    index.switch_alias("docs", "docs__v2")
    about = index.export_collection("docs__v2", Path("backup/collection"))
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import httpx
from qdrant_client import QdrantClient, models

from core.errors import IndexUnavailable, InvalidRequest, NotFound
from core.names import check_collection
from retrieval.aliases import AliasTable, logical_names
from retrieval.versions import ABSENT, VersionTokens

T = TypeVar("T")
ENGINE = "qdrant-server"
SNAPSHOT_FILE = "collection.snapshot"
# A snapshot of millions of points takes minutes to make, move and recover: a bound, not a 10 s timeout.
SNAPSHOT_TIMEOUT_S = 3600.0


class ServerAddress(NamedTuple):
    url: str
    api_key: str | None


class _ClientHost(Protocol):
    """What the mixin needs of ``QdrantClientIndex``."""

    _client: QdrantClient
    _server: ServerAddress | None
    _aliases: AliasTable
    _known: dict[str, tuple[int, str | None]]
    _versions: VersionTokens

    def _call(self, what: str, fn: Callable[[], T]) -> T: ...

    def aliases(self) -> dict[str, str]: ...

    def list_physical(self) -> list[str]: ...

    def drop_physical(self, physical: str) -> None: ...

    def _delete_aliases(self, names: list[str]) -> None: ...


class QdrantClientCollections:
    """``VectorIndex``'s collection roles for ``QdrantClientIndex``: names, aliases, drops, snapshots."""

    def _read_aliases(self: _ClientHost) -> dict[str, str]:
        response = self._call("read the aliases", self._client.get_aliases)
        return {a.alias_name: a.collection_name for a in response.aliases}

    def physical_name(self: _ClientHost, name: str, fresh: bool = False) -> str:
        return self._aliases.resolve(name, fresh)

    def cached_physical_name(self: _ClientHost, name: str) -> str | None:
        return self._aliases.resolve_cached(name)

    def aliases(self: _ClientHost) -> dict[str, str]:
        return dict(self._aliases.get(fresh=True))

    def list_physical(self: _ClientHost) -> list[str]:
        response = self._call("list collections", self._client.get_collections)
        return sorted(c.name for c in response.collections)

    def list_collections(self: _ClientHost) -> list[str]:
        return logical_names(self.list_physical(), self.aliases())

    def switch_alias(self: _ClientHost, name: str, physical: str) -> None:
        check_collection(name)
        table = self.aliases()
        if physical in table:
            raise InvalidRequest(f"{physical!r} is itself an alias: point {name!r} at a collection")
        if physical not in self.list_physical():
            raise NotFound(f"collection {physical!r} does not exist")
        operations: list[models.CreateAliasOperation | models.DeleteAliasOperation] = []
        if name in table:
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=name)))
        elif name in self.list_physical():
            # Qdrant refuses an alias named like a collection: the plain one goes first (the one gap).
            self.drop_physical(name)
        operations.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=physical, alias_name=name)))
        # One request: Qdrant applies the delete and the create together.
        self._call("switch an alias", lambda: self._client.update_collection_aliases(operations))
        self._aliases.forget()

    def drop_collection(self: _ClientHost, name: str) -> None:
        """Drop what ``name`` names: an alias with its target, or a collection with its aliases."""
        target = self.aliases().get(name)
        if target is None:
            self.drop_physical(name)
            return
        self._delete_aliases([a for a, t in self.aliases().items() if t == target])
        self.drop_physical(target)

    def drop_physical(self: _ClientHost, physical: str) -> None:
        self._delete_aliases([a for a, t in self.aliases().items() if t == physical])
        self._call("drop a collection", lambda: self._client.delete_collection(physical))
        self._known.pop(physical, None)
        self._versions.set(physical, ABSENT)

    def _delete_aliases(self: _ClientHost, names: list[str]) -> None:
        if names:
            operations = [models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=n)) for n in names]
            self._call("delete aliases", lambda: self._client.update_collection_aliases(operations))
            self._aliases.forget()

    # -- copies (``ragqa backup`` and ``ragqa restore``): Qdrant snapshots -------------------

    def export_collection(self: _ClientHost, physical: str, folder: Path) -> dict[str, Any]:
        """Snapshot the collection on the server, download it into ``folder``, delete it there."""
        with _rest(self._server) as http, _translated("snapshot a collection"):
            made = _checked(http.post(f"/collections/{physical}/snapshots", params={"wait": "true"}))
            name = str(made["result"]["name"])
            folder.mkdir(parents=True)
            digest = hashlib.sha256()
            try:
                with http.stream("GET", f"/collections/{physical}/snapshots/{name}") as response:
                    _raise_for(response)
                    with (folder / SNAPSHOT_FILE).open("wb") as out:
                        for block in response.iter_bytes(1 << 20):
                            digest.update(block)
                            out.write(block)
            finally:
                _checked(http.delete(f"/collections/{physical}/snapshots/{name}", params={"wait": "true"}))
        return {"engine": ENGINE, "snapshot": SNAPSHOT_FILE, "sha256": digest.hexdigest()}

    def import_collection(self: _ClientHost, folder: Path, physical: str, about: dict[str, Any]) -> None:
        """Recover collection ``physical`` from the snapshot in ``folder``, with a fresh version token."""
        if about.get("engine") != ENGINE:
            raise InvalidRequest(f"this backup was taken from {about.get('engine')!r}, not from a Qdrant "
                                 "server: restore it where it came from")
        if physical in self.list_physical():
            raise InvalidRequest(f"collection {physical!r} already exists")
        snapshot = folder / str(about.get("snapshot") or SNAPSHOT_FILE)
        params = {"priority": "snapshot", "wait": "true"}
        if about.get("sha256"):
            params["checksum"] = str(about["sha256"])  # the server refuses a file that differs
        with _rest(self._server) as http, _translated("recover a snapshot"), snapshot.open("rb") as data:
            _checked(http.post(f"/collections/{physical}/snapshots/upload", params=params,
                               files={"snapshot": (snapshot.name, data, "application/octet-stream")}))
        self._versions.bump(physical)


def _rest(server: ServerAddress | None) -> httpx.Client:
    if server is None:
        raise InvalidRequest("qdrant-client local mode has no snapshots: back up from Qdrant Edge "
                             "(RAGQA_QDRANT__BACKEND=edge, then re-ingest) or from a Qdrant server")
    headers = {"api-key": server.api_key} if server.api_key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=httpx.Timeout(SNAPSHOT_TIMEOUT_S, connect=10.0))


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError as exc:
        raise IndexUnavailable(f"Qdrant unavailable while trying to {what}: {exc}") from exc


def _raise_for(response: httpx.Response) -> None:
    if response.status_code == 404:
        raise NotFound(f"Qdrant: {response.request.url.path} not found")
    if response.is_error:
        response.read()
        raise IndexUnavailable(f"Qdrant answered {response.status_code} to {response.request.method} "
                               f"{response.request.url.path}: {response.text[:500]}")


def _checked(response: httpx.Response) -> dict[str, Any]:
    _raise_for(response)
    body: dict[str, Any] = response.json()
    return body
