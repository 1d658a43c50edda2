"""Sentences with exact character spans: the unit of evidence an answer cites.

A span's offsets index the text it was split from (plus ``offset``), so a chunk's sentences map
straight into its document: ``document.text[s.start:s.end] == s.text`` when ``offset`` is the
chunk's start. Rules, chosen for text we ingest (prose, Wikipedia, manuals, extracted PDFs):

- ``.``, ``!``, ``?`` (with closing quotes or brackets) end a sentence when whitespace and a
  capital letter, digit, quote or bracket follow, unless the word before is a known
  abbreviation or an initial ("John F. Kennedy", "U.S. Army");
- a blank line always ends one; a single line break ends one after terminal punctuation,
  after a short line (a heading), before a list item, and around the lines of structured text
  (a table row ``| a | b |``, a field ``Tracking number: PP4471``, a setting ``port = 5690``, a
  code fence), so each row, field or setting is a sentence of its own; it is a wrapped line
  otherwise;
- an over-long run (a table row, a list without punctuation) is cut at ``;`` or at a space so
  no sentence exceeds ``max_chars``.

    >>> [s.text for s in split_sentences("Dr. Smith left. He came back in 1990! Done")]
    ['Dr. Smith left.', 'He came back in 1990!', 'Done']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SENTENCE_CHARS = 600

# Words a period follows without ending the sentence (lowercase, inner periods kept).
_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e cf al approx no nos fig figs vol p pp pg ed eds "
    "inc ltd co corp bros gen col lt sgt capt cmdr adm gov sen rep rev hon pres dept univ est "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
# A candidate end: terminal punctuation, closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9À-Þ]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_WORD_BEFORE = re.compile(r"([\w.]+)\.$")
_SHORT_LINE = 60
_LIST_ITEM = re.compile(r"([-*•]|\d{1,3}[.)])\s")
# A line of structured text: a table row, a code fence, a field ("Carrier: ParcelPoint Ground",
# "**Port** — 5690") or a setting ("max_connections = 10000", "orchard.job.timeout=45m").
_TABLE_ROW = re.compile(r"\|")
_HEADED_ROW = re.compile(r"[^·\n]{1,60}?: [^·\n]+( · [^·\n]+)+$")  # a table row with its header (ingest.tables)
_FENCE = re.compile(r"(```|~~~)")
_FIELD = re.compile(r"[*_`]*[A-Z][\w .()/#&'+-]{0,40}?[*_`]*\s?(:|—|–)\s+\S")
# One token, then "=" (or ":" when the token reads as a key: "max_conn: 10", "broker.port: 5690").
_SETTING = re.compile(r"[`\"]?([A-Za-z_][\w.\-\[\]]*[`\"]?\s*=|[\w-]*[_.][\w.-]*[`\"]?:)\s*\S")


@dataclass(frozen=True, slots=True)
class SentenceSpan:
    """One sentence: ``text`` is exactly the source text at ``start:end``."""

    start: int
    end: int
    text: str


def split_sentences(text: str, offset: int = 0, max_chars: int = MAX_SENTENCE_CHARS) -> list[SentenceSpan]:
    """The sentences of ``text``, trimmed of surrounding whitespace, in order."""
    spans: list[SentenceSpan] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for cut in _sentence_ends(text, block_start, block_end):
            _emit(text, start, cut, offset, max_chars, spans)
            start = cut
        _emit(text, start, block_end, offset, max_chars, spans)
    return spans


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraphs and standalone lines: the ranges no sentence crosses."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _BLANK_LINE.finditer(text):
        bounds.extend(_lines(text, start, match.start()))
        start = match.end()
    bounds.extend(_lines(text, start, len(text)))
    return bounds


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Splits a paragraph at line breaks that end a line of its own (not a wrapped line)."""
    bounds: list[tuple[int, int]] = []
    line_start = start
    pos = text.find("\n", start, end)
    while pos != -1:
        if not _wrapped(text[line_start:pos].strip(), text[pos + 1:end].lstrip()):
            bounds.append((line_start, pos))
            line_start = pos + 1
        pos = text.find("\n", pos + 1, end)
    bounds.append((line_start, end))
    return bounds


def _wrapped(line: str, rest: str) -> bool:
    """True when the line break inside ``line`` + ``rest`` only wraps a running sentence."""
    if not line or not rest or line.endswith((".", "!", "?", ":", "…")) or _LIST_ITEM.match(rest):
        return False
    if structured_line(line) or structured_line(rest):
        return False
    return rest[0].islower() or len(line) >= _SHORT_LINE


def structured_line(line: str) -> bool:
    """A line of a table, a code block, or a list of fields or settings: never a wrapped line.

        >>> structured_line("Tracking number: PP4471-9938-02"), structured_line("max_connections = 10000")
        (True, True)
        >>> structured_line("| London | GBP | 72 |"), structured_line("The port is set below.")
        (True, False)
    """
    if _TABLE_ROW.match(line) or _FENCE.match(line) or _SETTING.match(line) or _HEADED_ROW.match(line):
        return True
    field = _FIELD.match(line)
    return field is not None and len(line[: field.start(1)].split()) <= 5  # a key is a few words


def _sentence_ends(text: str, start: int, end: int) -> list[int]:
    cuts: list[int] = []
    for match in _END.finditer(text, start, end):
        stop = match.end()
        if not _STARTS_SENTENCE.match(text, stop, end):
            continue
        if match.group().startswith(".") and _is_abbreviation(text[start:match.start() + 1]):
            continue
        cuts.append(stop)
    return cuts


def _is_abbreviation(before: str) -> bool:
    """True when the period ending ``before`` belongs to a word, not to the sentence."""
    found = _WORD_BEFORE.search(before[-24:])
    if not found:
        return False
    word = found.group(1)
    if len(word) == 1 and word.isupper():
        return True  # an initial: "John F. Kennedy"
    if "." in word and all(len(part) <= 2 for part in word.split(".")):
        return True  # "U.S.", "e.g."
    return word.lower() in _ABBREVIATIONS


def _emit(text: str, start: int, end: int, offset: int, max_chars: int, spans: list[SentenceSpan]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > max_chars:
        cut = _long_cut(text, start, start + max_chars)
        _emit(text, start, cut, offset, max_chars, spans)
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        spans.append(SentenceSpan(offset + start, offset + end, text[start:end]))


def _long_cut(text: str, start: int, limit: int) -> int:
    """Where to cut an over-long run: after the last ``;``, else the last space, else ``limit``."""
    window = text[start:limit]
    floor = len(window) // 3
    for mark in ("; ", ", ", " "):
        at = window.rfind(mark, floor)
        if at != -1:
            return start + at + len(mark.rstrip())
    return limit
