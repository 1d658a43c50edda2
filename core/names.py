"""Rules shared by every surface that accepts a collection name or tags (API, CLI, the index).

    >>> check_collection("docs-2024")
    'docs-2024'
    >>> parse_tags(["team=legal", " year = 2024 "])
    {'team': 'legal', 'year': '2024'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.errors import InvalidRequest

# Collection names become folder names of an embedded store: no separators, no dot-files,
# nothing a shell would mangle.
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_COLLECTION = re.compile(COLLECTION_PATTERN)
COLLECTION_RULE = "use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128 characters)"


def is_collection_name(name: str) -> bool:
    return _COLLECTION.fullmatch(name) is not None


def check_collection(name: str) -> str:
    """``name`` when it is a valid collection name; otherwise an ``InvalidRequest`` saying the rule."""
    if not is_collection_name(name):
        raise InvalidRequest(f"collection name {name!r} is not allowed: {COLLECTION_RULE}")
    return name


def parse_tag_pairs(tags: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``["team=a", "team=b"]`` -> ``(("team", "a"), ("team", "b"))``, as filters take them (a key may
    repeat); anything not of the form ``key=value`` is an ``InvalidRequest``."""
    pairs = []
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"tag {tag!r} is not of the form key=value")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def parse_tags(tags: Iterable[str]) -> dict[str, str]:
    """A document's tags: ``["team=legal"]`` -> ``{"team": "legal"}`` (a repeated key: the last wins)."""
    return dict(parse_tag_pairs(tags))
