"""Repetition loops in generated text: a streaming detector and a trimmer.

Small models loop ("RagQA is a QA-based QA-based QA-based ...") until ``max_tokens``. Text is
degenerate when it holds any of these (the first two catch short loops within a few words):

- a word cycle: a unit of 1-4 words repeated back to back, 3 copies and 4 words at least
  ("QA-based QA-based QA-based QA-based", "is a is a is a");
- a character cycle inside one word: a unit of up to 8 characters, 3 copies and 9 characters
  at least ("abcabcabc"), or 32 characters when the unit has a single letter ("xxxx-xxxx");
- a word n-gram (4 words) seen more than twice: the product bar, and what catches a loop whose
  unit is a whole sentence;
- a line of 3 words or more repeated right after itself, or seen a third time;
- more than 6 citation markers in a row with no word between ("[1] [2] [3] ... [27]"): the
  loop of a model counting its sources, invisible to the rules above since markers are not words.

Words are compared case-insensitively, without punctuation or citation markers ("[1]",
"[2, 3]"); "QA-based", "0.5" and "don't" stay one word. Units made only of numbers never count:
tables of figures repeat values. In a table row (a line starting with "|") each cell is
separate, so a row of "yes" cells is not a cycle. The detector reads each character once and
keeps rolling counts, so ``feed`` costs O(len(delta)) and delta boundaries don't matter.

    >>> is_degenerate("RagQA is a QA-based QA-based QA-based QA-based QA-based")
    True
    >>> trim("Paris is the capital [1]. It is a QA-based QA-based QA-based QA-based")
    'Paris is the capital [1].'
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

RepetitionKind = Literal["word-cycle", "char-cycle", "ngram", "line", "citations"]

_JOINERS = frozenset("-'’_.,")  # inside a word ("QA-based", "0.5"); "," only between digits
_CITATION_CHARS = frozenset("0123456789 ,;-–")
_MAX_CITATION = 16
_MAX_CITATIONS_IN_ROW = 6  # the default retrieval top_k: more can only be a count running on
_MAX_WORD_PERIOD = 4
_MAX_CHAR_PERIOD = 8
_MIN_COPIES = 3
_MIN_CYCLE_WORDS = 4
_MIN_CYCLE_CHARS = 9
# A unit of one letter is also a placeholder ("xxxxxxxx", "XXXX-XXXX"): only a long run is a loop.
_MIN_MONOTONE_CHARS = 32
_CITE = r"(?:\s*\[\d[\d\s,;–-]*\])*"
# Where a kept text may end. A bare newline is not one: small models wrap lines mid-sentence.
_SENTENCE_END = re.compile(
    r"[.!?…][\"'”’)\]]*" + _CITE + r"(?=\s)"  # punctuation, then a space
    r"|(?m:^[ \t]*(?:[-*+•]|\d+[.)])[ \t].*(?=\n))"  # the end of a list item
    r"|\|[ \t]*(?=\n)"  # the end of a table row
    r"|(?<=\S)[ \t]*(?=\n[ \t]*\n)"  # the end of a paragraph
)
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*" + _CITE + r"$")
_BARE_MARKER = re.compile(r"\s*(?:\d+[.)]|[-*+•])?\s*")  # "2." left alone on a line is no sentence


@dataclass(frozen=True, slots=True)
class Repetition:
    """Why a text is degenerate: ``text[:loop_start]`` holds the looping unit once, and
    ``text[:excess_start]`` is still within the limits (it holds the unit up to the allowed count).
    """

    kind: RepetitionKind
    detail: str
    loop_start: int  # offset where the first repeat of the unit begins
    excess_start: int  # offset where the repeat that broke the limit begins
    detected_at: int  # offset just past the character that made the text degenerate


def _numeric(words: tuple[str, ...] | list[str]) -> bool:
    return all(word[0].isdigit() for word in words)


class RepetitionGuard:
    """Streaming loop detector: feed it deltas; it says when the text so far is degenerate.

    Example::

        guard = RepetitionGuard()
        for delta in stream:
            text += delta
            if guard.feed(delta):
                text = guard.trim(text)  # back to before the loop
                break
        else:
            guard.finish()  # the last word and line, which no separator has closed
    """

    def __init__(self, *, ngram: int = 4, max_ngram_repeats: int = 2, min_line_words: int = 3) -> None:
        self._n = ngram
        self._max_repeats = max_ngram_repeats
        self._min_line_words = min_line_words
        self._found: Repetition | None = None
        self._pos = 0
        self._citation: list[tuple[str, int]] | None = None
        self._cites_in_row, self._first_cite = 0, 0
        # The word being read, one offset per character, its pending joiner and cycle runs:
        # _char_runs[p] = how many characters in a row equal the one p places before.
        self._chars: list[str] = []
        self._char_pos: list[int] = []
        self._joiner: tuple[str, int] | None = None
        self._char_runs = [0] * (_MAX_CHAR_PERIOD + 1)
        # The words of the current segment (a table cell, otherwise all the text so far).
        self._seg: deque[tuple[str, int]] = deque(maxlen=max(ngram, 3 * _MAX_WORD_PERIOD) + 1)
        self._seg_len = 0
        self._word_runs = [0] * (_MAX_WORD_PERIOD + 1)
        self._ngrams: dict[tuple[str, ...], list[int]] = {}  # n-gram -> [count, 2nd start]
        self._line_words: list[str] = []
        self._line_start = 0
        self._line_fresh = True
        self._table_line = False
        self._prev_line: tuple[str, ...] = ()
        self._lines: dict[tuple[str, ...], list[int]] = {}

    @property
    def degenerate(self) -> bool:
        return self._found is not None

    @property
    def repetition(self) -> Repetition | None:
        return self._found

    @property
    def reason(self) -> str | None:
        """A one-line explanation for logs, or None while the text looks fine."""
        return f"{self._found.kind}: {self._found.detail}" if self._found else None

    def feed(self, delta: str) -> bool:
        """Read the next piece of text; True once the text so far is degenerate (and after)."""
        for char in delta:
            if self._found is not None:
                break
            self._pos += 1
            self._take(char, self._pos - 1)
        return self._found is not None

    def finish(self) -> bool:
        """End of text: judge the last word and line too. Returns the verdict."""
        if self._found is None:
            self._flush_citation()
            self._end_word()
            self._end_line(self._pos)
        return self._found is not None

    def trim(self, text: str) -> str:
        """``text`` (what was fed, or more) cut back to before the loop, or unchanged."""
        return text if self._found is None else _cut(text, self._found)

    def _flag(self, kind: RepetitionKind, detail: str, loop_start: int, excess_start: int) -> None:
        if self._found is None:
            self._found = Repetition(kind, detail, loop_start, excess_start, self._pos)

    def _take(self, char: str, pos: int) -> None:
        # "[1]" and "[2, 3]" are held back until they close, then dropped like punctuation.
        if self._citation is not None:
            if char == "]" and any(c.isdigit() for c, _ in self._citation):
                start = self._citation[0][1]
                self._citation = None
                self._plain(" ", pos)
                self._cite(start)
                return
            if char in _CITATION_CHARS and len(self._citation) < _MAX_CITATION:
                self._citation.append((char, pos))
                return
            self._flush_citation()
        if char == "[":
            self._citation = [(char, pos)]
        else:
            self._plain(char, pos)

    def _cite(self, start: int) -> None:
        self._cites_in_row += 1
        if self._cites_in_row == 1:
            self._first_cite = start
        elif self._cites_in_row > _MAX_CITATIONS_IN_ROW:
            detail = f"{self._cites_in_row} citation markers in a row"
            self._flag("citations", detail, self._first_cite, start)

    def _flush_citation(self) -> None:
        held, self._citation = self._citation or [], None
        for char, pos in held:
            self._plain(char, pos)

    def _plain(self, char: str, pos: int) -> None:
        if self._line_fresh and not char.isspace():
            self._line_fresh = False
            self._table_line = char == "|"
        if char.isalnum():
            if self._joiner is not None:
                joiner, joiner_pos = self._joiner
                self._joiner = None
                if joiner != "," or (char.isdigit() and self._chars[-1].isdigit()):
                    self._add_char(joiner, joiner_pos)
                else:
                    self._end_word()
            self._add_char(char.lower(), pos)
        elif char in _JOINERS and self._chars and self._joiner is None:
            self._joiner = (char, pos)
        else:
            self._end_word()
            if char == "\n":
                self._end_line(pos)
            elif char == "|" and self._table_line:
                self._end_segment()

    def _add_char(self, char: str, pos: int) -> None:
        chars, runs = self._chars, self._char_runs
        chars.append(char)
        self._char_pos.append(pos)
        n = len(chars)
        for p in range(1, _MAX_CHAR_PERIOD + 1):
            runs[p] = runs[p] + 1 if n > p and chars[-1] == chars[-1 - p] else 0
        for p in range(1, _MAX_CHAR_PERIOD + 1):
            span = runs[p] + p
            if span // p >= _MIN_COPIES and span >= _MIN_CYCLE_CHARS:
                letters = {c for c in chars[-p:] if c.isalpha()}
                if letters and (len(letters) > 1 or span >= _MIN_MONOTONE_CHARS):
                    unit, copies = "".join(chars[n - span : n - span + p]), span // p
                    last_copy = n - span + (copies - 1) * p
                    detail = f"{unit!r} repeated {copies} times"
                    self._flag("char-cycle", detail, self._char_pos[n - runs[p]], self._char_pos[last_copy])
                    return

    def _end_word(self) -> None:
        self._joiner = None
        if not self._chars:
            return
        word, start = "".join(self._chars), self._char_pos[0]
        self._chars, self._char_pos = [], []
        self._cites_in_row = 0
        self._char_runs = [0] * (_MAX_CHAR_PERIOD + 1)
        self._line_words.append(word)
        seg, runs = self._seg, self._word_runs
        seg.append((word, start))
        self._seg_len += 1
        for p in range(1, _MAX_WORD_PERIOD + 1):
            runs[p] = runs[p] + 1 if self._seg_len > p and seg[-1 - p][0] == word else 0
        for p in range(1, _MAX_WORD_PERIOD + 1):
            span = runs[p] + p
            if span // p >= _MIN_COPIES and span >= _MIN_CYCLE_WORDS:
                unit = [w for w, _ in list(seg)[-p:]]
                if not _numeric(unit):
                    detail = f"{' '.join(unit)!r} repeated {span // p} times back to back"
                    self._flag("word-cycle", detail, seg[-runs[p]][1], seg[-p][1])
                    return
        if self._seg_len >= self._n:
            window = list(seg)[-self._n :]
            key = tuple(w for w, _ in window)
            if _numeric(key):
                return
            entry = self._ngrams.setdefault(key, [0, -1])
            entry[0] += 1
            if entry[0] == 2:
                entry[1] = window[0][1]
            elif entry[0] > self._max_repeats:
                self._flag("ngram", f"{' '.join(key)!r} seen {entry[0]} times", entry[1], window[0][1])

    def _end_segment(self) -> None:
        self._seg.clear()
        self._seg_len = 0
        self._word_runs = [0] * (_MAX_WORD_PERIOD + 1)

    def _end_line(self, pos: int) -> None:
        words, start = tuple(self._line_words), self._line_start
        self._line_words = []
        self._line_start, self._line_fresh, self._table_line = pos + 1, True, False
        if not words:
            return
        if len(words) >= self._min_line_words:
            if words == self._prev_line:
                self._flag("line", f"{' '.join(words)!r} twice in a row", start, start)
            entry = self._lines.setdefault(words, [0, -1])
            entry[0] += 1
            if entry[0] == 2:
                entry[1] = start
            elif entry[0] > 2:
                self._flag("line", f"{' '.join(words)!r} seen {entry[0]} times", entry[1], start)
        self._prev_line = words


def find_repetition(text: str) -> Repetition | None:
    """The first repetition loop in a whole text, or None."""
    guard = RepetitionGuard()
    guard.feed(text)
    guard.finish()
    return guard.repetition


def is_degenerate(text: str) -> bool:
    """True when ``text`` holds a repetition loop (the same verdict as streaming it)."""
    return find_repetition(text) is not None


def trim(text: str) -> str:
    """``text`` cut back to before its first loop (at a sentence end when one precedes it)."""
    found = find_repetition(text)
    return text if found is None else _cut(text, found)


def _cut(text: str, found: Repetition) -> str:
    """The text up to a sentence end: the last one before the first repeat, else the first one
    before the excess (a sentence that holds the unit twice beats half a sentence), else the
    words before the first repeat."""
    head = text[: found.loop_start]
    ends = [match.end() for match in _SENTENCE_END.finditer(head)]
    # The unit itself may end a sentence or a line ("Paris is the capital. Paris is ..."): keep it.
    if head.rstrip(" \t").endswith("\n") or _ENDS_SENTENCE.search(head.rstrip()):
        ends.append(len(head))
    for end in reversed(ends):
        if kept := _whole(text[:end]):
            return kept
    for match in _SENTENCE_END.finditer(text, found.loop_start, found.excess_start):
        if kept := _whole(text[: match.end()]):
            return kept
    return head.rstrip()


def _whole(head: str) -> str:
    """``head`` without trailing space, or "" when it ends on a dangling "2." or an opening colon."""
    kept = head.rstrip()
    last_line = kept.rpartition("\n")[2]
    return "" if kept.endswith(":") or _BARE_MARKER.fullmatch(last_line) else kept
