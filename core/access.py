"""Who is asking, and what they may see: the principal every request runs as.

A principal comes from a scoped API key (``state.api_keys``), a single sign-on token (a JWT,
``api.jwt_auth``), a widget token, or, with authentication off, the open principal that may do
everything. Its roles say what it may do (``ask``, ``ingest``, ``admin``); ``collections`` which
collections (None: all); its ``readers`` which documents: a document's ACL lists who may read it
(``user:ana``, ``group:legal``), and a document without one is readable by everyone who may use
its collection (stored as ``*``).

    >>> ana = Principal("ana", "user", roles=frozenset({"ask"}), groups=frozenset({"legal"}))
    >>> ana.readers
    ('*', 'group:legal', 'user:ana')
    >>> ana.may("ingest"), ana.may_use("docs"), ana.may_read(["group:finance"]), ana.may_read(["group:legal"])
    (False, True, False, True)
    >>> OPEN.may("admin"), OPEN.readers is None
    (True, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from core.errors import Forbidden, InvalidRequest

Role = Literal["ask", "ingest", "admin"]
ROLES: tuple[Role, ...] = ("ask", "ingest", "admin")
PUBLIC = "*"  # the ACL entry of a document everyone who may use its collection may read
NAME = re.compile(r"[\w.@+-]{1,128}")  # a user's or a group's name, as ACL entries and keys give it
_ENTRY = re.compile(rf"(user|group):{NAME.pattern}")


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: its name, where it comes from, its roles, collections and groups."""

    name: str
    kind: Literal["key", "user", "widget", "open"]
    roles: frozenset[str] = frozenset({"ask"})
    collections: frozenset[str] | None = None  # None: every collection
    groups: frozenset[str] = field(default_factory=frozenset)
    daily_tokens: int | None = None  # a scoped key's quota of LLM tokens a day (UTC); None: no quota

    @property
    def label(self) -> str:
        """``kind:name`` (``key:ops-bot``, ``user:ana``): how logs, the audit trail and usage name it."""
        return f"{self.kind}:{self.name}"

    @property
    def unrestricted(self) -> bool:
        """Reads every document whatever its ACL: an admin, or the open principal (auth off)."""
        return "admin" in self.roles

    @property
    def readers(self) -> tuple[str, ...] | None:
        """The ACL entries that let this principal read a document, sorted (they are part of cache
        keys: two principals with the same ones see the same documents); None: it reads every one."""
        if self.unrestricted:
            return None
        return tuple(sorted({PUBLIC, f"user:{self.name}", *(f"group:{g}" for g in self.groups)}))

    def may(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles

    def may_use(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def may_read(self, acl: Iterable[str]) -> bool:
        readers = self.readers
        return readers is None or any(entry in readers for entry in acl)

    def require(self, role: str, collection: str | None = None) -> None:
        """Raises ``Forbidden`` unless this principal has ``role`` (and may use ``collection``)."""
        if not self.may(role):
            raise Forbidden(f"{self.kind} {self.name!r} may not {role}: it has the roles {sorted(self.roles)}")
        if collection is not None and not self.may_use(collection):
            raise Forbidden(f"{self.kind} {self.name!r} may not use the collection {collection!r}")


OPEN = Principal("anonymous", "open", roles=frozenset(ROLES))


def parse_acl(entries: Iterable[str]) -> tuple[str, ...]:
    """ACL entries as given (``--acl group:legal``), checked and sorted; none means public.

        >>> parse_acl(["group:legal", "user:ana", "group:legal"])
        ('group:legal', 'user:ana')
        >>> parse_acl([])
        ('*',)
    """
    cleaned = sorted({e.strip() for e in entries if e.strip()})
    for entry in cleaned:
        if not _ENTRY.fullmatch(entry):
            raise InvalidRequest(f"ACL entry {entry!r}: use user:NAME or group:NAME (letters, digits, . @ + - _)")
    return tuple(cleaned) or (PUBLIC,)
