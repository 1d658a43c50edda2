"""The fresh planted-instruction set: attacks and benign look-alikes written blind (issue #34).

``bench/data/injection-fresh/`` holds ``attacks.jsonl`` (one planted instruction per carrier document,
its exact text in ``payload``) and ``benign.jsonl`` (hard negatives in the same carriers, plus
encyclopedia paragraphs). Its README says how it was written, the schema and the split. Every item
carries a ``split``: whole attack families and whole benign (carrier, family) groups are held out, so
a detector chosen on ``dev`` is judged on wording it has never seen.

>>> attacks, benign = load()
>>> sorted({a.kind for a in attacks})
['encoded', 'override', 'targeted', 'task_irrelevant', 'task_relevant']
>>> all(a.payload in a.text for a in attacks)
True
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from core.errors import InvalidRequest

DATA = Path(__file__).resolve().parent / "data" / "injection-fresh"

KINDS = ("task_irrelevant", "task_relevant", "targeted", "override", "encoded")
CARRIERS = ("email", "table", "web_page", "code_comment", "forum_post", "pdf_text", "slides", "support_ticket",
            "receipt")
BENIGN_CARRIERS = (*CARRIERS, "encyclopedia")
POSITIONS = ("start", "middle", "end")
LANGUAGES = ("en", "de", "es", "fr")
SPLITS = ("dev", "heldout")
MIN_WORDS, MAX_WORDS = 50, 400


@dataclass(frozen=True, slots=True)
class Attack:
    """A carrier document with one planted instruction; ``payload`` is that instruction, verbatim."""

    id: str
    kind: str
    family: str
    carrier: str
    position: str
    language: str  # the payload's language
    carrier_language: str
    split: str
    text: str
    payload: str


@dataclass(frozen=True, slots=True)
class Benign:
    """A document with no planted instruction (``kind`` is "benign", ``position`` is "none")."""

    id: str
    kind: str
    family: str
    carrier: str
    position: str
    language: str
    carrier_language: str
    split: str
    text: str


_Item = TypeVar("_Item", Attack, Benign)


def load(root: Path = DATA) -> tuple[list[Attack], list[Benign]]:
    """Both files, checked; raises ``InvalidRequest`` listing every problem found."""
    attacks, found = _read(root / "attacks.jsonl", Attack)
    benign, more = _read(root / "benign.jsonl", Benign)
    found += more + problems(attacks, benign)
    if found:
        shown = "; ".join(found[:20])
        raise InvalidRequest(f"{root}: {len(found)} problem(s) in the injection-fresh set: {shown}")
    return attacks, benign


def _read(path: Path, cls: type[_Item]) -> tuple[list[_Item], list[str]]:
    names = {f.name for f in fields(cls)}
    items: list[_Item] = []
    found: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            record: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError as exc:
            found.append(f"{where}: not JSON ({exc.msg})")
            continue
        if set(record) != names:
            found.append(f"{where}: fields {sorted(set(record) ^ names)} missing or unexpected")
            continue
        if not all(isinstance(v, str) for v in record.values()):
            found.append(f"{where}: every field must be a string")
            continue
        items.append(cls(**record))
    return items, found


def problems(attacks: Sequence[Attack], benign: Sequence[Benign]) -> list[str]:
    """Everything wrong with the two sets: enums, payloads, lengths, unique ids and consistent splits."""
    found: list[str] = []
    everything: list[Attack | Benign] = [*attacks, *benign]
    ids = Counter(item.id for item in everything)
    found += [f"{i}: id used {n} times" for i, n in ids.items() if n > 1]
    for a in attacks:
        found += _enum_problems(a.id, kind=(a.kind, KINDS), carrier=(a.carrier, CARRIERS),
                                position=(a.position, POSITIONS), language=(a.language, LANGUAGES),
                                carrier_language=(a.carrier_language, LANGUAGES), split=(a.split, SPLITS))
        if not a.payload or a.payload not in a.text:
            found.append(f"{a.id}: payload does not occur in text")
        found += _length_problem(a.id, a.text)
    for b in benign:
        found += _enum_problems(b.id, kind=(b.kind, ("benign",)), carrier=(b.carrier, BENIGN_CARRIERS),
                                position=(b.position, ("none",)), language=(b.language, LANGUAGES),
                                carrier_language=(b.carrier_language, LANGUAGES), split=(b.split, SPLITS))
        found += _length_problem(b.id, b.text)
    found += _one_value_per_group("attack family", ((a.family, a.kind) for a in attacks), "kind")
    found += _one_value_per_group("attack family", ((a.family, a.split) for a in attacks), "split")
    found += _one_value_per_group("benign group", ((f"{b.carrier}/{b.family}", b.split) for b in benign), "split")
    return found


def _enum_problems(item_id: str, **checks: tuple[str, Sequence[str]]) -> list[str]:
    return [f"{item_id}: {name} {value!r} not one of {list(allowed)}"
            for name, (value, allowed) in checks.items() if value not in allowed]


def _length_problem(item_id: str, text: str) -> list[str]:
    n = len(text.split())
    return [] if MIN_WORDS <= n <= MAX_WORDS else [f"{item_id}: {n} words, outside {MIN_WORDS}-{MAX_WORDS}"]


def _one_value_per_group(what: str, pairs: Iterable[tuple[str, str]], field: str) -> list[str]:
    values: dict[str, set[str]] = defaultdict(set)
    for group, value in pairs:
        values[group].add(value)
    return [f"{what} {g}: more than one {field} {sorted(v)}" for g, v in values.items() if len(v) > 1]


def near_duplicates(texts: Sequence[str], threshold: float = 0.8, n: int = 5) -> list[tuple[int, int, float]]:
    """Pairs of texts sharing more than ``threshold`` of the smaller one's word ``n``-grams.

    >>> near_duplicates(["the cat sat on the mat today", "the cat sat on the mat today!", "a b c d e f"])
    [(0, 1, 1.0)]
    """
    grams = [_ngrams(t, n) for t in texts]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for gram in g:
            index[gram].append(i)
    pairs = []
    for i, g in enumerate(grams):
        shared: Counter[int] = Counter(j for gram in g for j in index[gram] if j > i)
        for j, count in shared.items():
            overlap = count / min(len(g), len(grams[j]))
            if overlap > threshold:
                pairs.append((i, j, round(overlap, 3)))
    return pairs


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text.lower())
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}
