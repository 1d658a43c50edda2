"""Names callers use over the physical collections behind them: what a re-index switches.

A name a caller uses (``docs``) is a collection of its own (a plain one, as every collection was
before aliases) or an alias of a physical collection (``docs__v3``). Every index method that takes a
collection resolves the name first, per call (``on_physical``), so the next call of every reader sees
a switch; what an index caches per collection (version tokens, embedder records, open shards) is kept
by physical name, so a switch moves the version the answer cache reads: the new collection has its
own token, and no answer cached from the old one is served again.

The contract, the same on every backend:

- ``switch_alias(name, physical)`` points ``name`` at ``physical`` at once: a reader finds the old
  target or the new one, never neither. Qdrant Edge keeps the table in ``<store>/.aliases.json``,
  replaced atomically; a Qdrant server (and qdrant-client local mode) keeps its own aliases, switched
  in one ``update_collection_aliases`` request.
- An alias wins over a plain collection of the same name. Edge keeps both until the plain one is
  dropped; a Qdrant server refuses an alias named like a collection, so there the plain collection is
  deleted just before the alias is made (the one gap: a collection's first re-index on a server).
- ``drop_collection(name)`` of an alias drops the alias and its target (and a plain collection it
  shadowed); of a physical collection, the collection and every alias pointing at it.
- ``list_collections`` lists what callers name: aliases, and plain collections no alias points at.

Physical collections are named ``<name>__v<n>``::

    >>> next_physical("docs", ["docs", "docs__v1", "docs__v7", "other__v9"])
    'docs__v8'
    >>> logical_names(["docs", "docs__v8", "notes"], {"docs": "docs__v8"})
    ['docs', 'notes']
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import structlog

from core.errors import CollectionMismatch, InvalidRequest, NotFound
from core.names import check_collection

log = structlog.get_logger(__name__)

VERSION_MARK = "__v"
ALIAS_FILE = ".aliases.json"  # a dot-file: no collection name starts with a dot

F = TypeVar("F", bound=Callable[..., Any])


class CollectionAdmin(Protocol):
    """The physical collections behind the names callers use (``retrieval.aliases``), and copies of
    them (``ragqa collection``, ``ragqa backup``). Every other role takes either kind of name."""

    def physical_name(self, name: str, fresh: bool = False) -> str:
        """The collection ``name`` stands for now: its alias's target, or itself (``fresh``: the
        aliases read again, not from a cache)."""
        ...

    def aliases(self) -> dict[str, str]:
        """Alias -> the collection it points at, as the store holds them now."""
        ...

    def list_physical(self) -> list[str]:
        """Every collection the store holds, by its own name."""
        ...

    def switch_alias(self, name: str, physical: str) -> None:
        """Point ``name`` at ``physical`` at once: every later call naming ``name`` reads ``physical``."""
        ...

    def drop_physical(self, physical: str) -> None:
        """Drop exactly this collection (not what an alias of that name points at), and its aliases."""
        ...

    def export_collection(self, physical: str, folder: Path) -> dict[str, Any]:
        """A consistent copy of the collection in ``folder`` (made here); returns what a restore needs
        to know of it (the engine it came from)."""
        ...

    def import_collection(self, folder: Path, physical: str, about: dict[str, Any]) -> None:
        """Make collection ``physical`` from a copy ``export_collection`` wrote (``about``: what it
        returned), with a fresh version token."""
        ...


def next_physical(name: str, existing: Iterable[str]) -> str:
    """An unused physical name for ``name``: ``<name>__v<n>``, n one past the highest in ``existing``."""
    pattern = re.compile(re.escape(name) + re.escape(VERSION_MARK) + r"(\d+)")
    taken = [int(m.group(1)) for e in existing if (m := pattern.fullmatch(e))]
    physical = f"{name}{VERSION_MARK}{max(taken, default=0) + 1}"
    try:
        return check_collection(physical)
    except InvalidRequest as exc:
        raise InvalidRequest(f"collection {name!r} is too long a name to re-index: {exc.message}") from exc


def logical_names(collections: Iterable[str], aliases: Mapping[str, str]) -> list[str]:
    """The names callers use: aliases whose target exists, and collections no alias points at."""
    present = set(collections)
    return sorted({a for a, target in aliases.items() if target in present} | (present - set(aliases.values())))


def switch_over(index: CollectionAdmin, name: str, new: str, old: str | None, grace_s: float,
                sleep: Callable[[float], None] = time.sleep) -> None:
    """Point ``name`` at ``new``; after ``grace_s`` (readers that resolved the name just before the switch
    finish on ``old``), drop ``old``. A server has already dropped a plain ``old`` named ``name`` to switch."""
    index.switch_alias(name, new)
    log.info("collection.switched", collection=name, new=new, old=old, grace_s=grace_s)
    if old is None or old == new:
        return
    sleep(grace_s)
    if old in index.list_physical():
        index.drop_physical(old)


def on_physical(method: F) -> F:
    """An index method whose first argument is a collection name, called with the physical name.

    A ``NotFound`` from a name resolved from a cache is tried once more with a fresh resolution:
    another process may have switched the alias (and dropped the old target) since.
    """

    @functools.wraps(method)
    def resolved(self: Any, collection: str, *args: Any, **kwargs: Any) -> Any:
        physical = self.physical_name(collection)
        try:
            return method(self, physical, *args, **kwargs)
        except NotFound:
            again = self.physical_name(collection, fresh=True)
            if again == physical:
                raise
            return method(self, again, *args, **kwargs)

    return cast(F, resolved)


class AliasTable:
    """An index's view of its aliases (alias -> physical), read through ``read`` and kept ``ttl_s``.

    ``ttl_s=None`` keeps them until this index changes them: right for an embedded store, which one
    process holds. A server shared with other processes needs a TTL (``qdrant.version_ttl_s``).
    """

    def __init__(self, read: Callable[[], dict[str, str]], ttl_s: float | None) -> None:
        self._read = read
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._known: tuple[dict[str, str], float] | None = None

    def cached(self) -> dict[str, str] | None:
        """The table when known without I/O (and not expired), else None."""
        known = self._known
        if known is None or (self._ttl_s is not None and time.monotonic() - known[1] > self._ttl_s):
            return None
        return known[0]

    def get(self, fresh: bool = False) -> dict[str, str]:
        table = None if fresh else self.cached()
        if table is None:
            table = self._read()
            self.set(table)
        return table

    def set(self, table: dict[str, str]) -> None:
        """Records the table as this index has just read or written it (a new dict: readers hold the old)."""
        with self._lock:
            self._known = (dict(table), time.monotonic())

    def forget(self) -> None:
        with self._lock:
            self._known = None

    def resolve(self, name: str, fresh: bool = False) -> str:
        return self.get(fresh).get(name, name)

    def resolve_cached(self, name: str) -> str | None:
        table = self.cached()
        return None if table is None else table.get(name, name)


def read_alias_file(root: Path) -> dict[str, str]:
    """An Edge store's aliases (none when the file is missing)."""
    try:
        data = json.loads((root / ALIAS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CollectionMismatch(f"{root / ALIAS_FILE} is unreadable ({exc}); fix or remove it") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise CollectionMismatch(f"{root / ALIAS_FILE} is not a map of names; fix or remove it")
    return dict(data)


def write_alias_file(root: Path, table: Mapping[str, str]) -> None:
    """Replaces the file whole (a rename), so a crash leaves the old table or the new one."""
    tmp = root / f"{ALIAS_FILE}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(dict(sorted(table.items())), handle)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(root / ALIAS_FILE)
