"""The output guardrail: every ``[n]`` must name a source that was in the prompt.

Invalid markers are removed and counted; valid ones are normalized to ``[n]`` (``[1, 3]`` ->
``[1][3]``, ``[Source 2]`` -> ``[2]``). ``CitationStreamFilter`` does the same on a token
stream, holding back only what could still become a marker, so a client never sees an
invalid citation.

    >>> result = validate_citations("Paris [1][4], since 1950 [2, 9].", n_sources=2)
    >>> result.text, result.cited, result.invalid
    ('Paris [1], since 1950 [2].', [1, 2], 2)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# "[1]", "[1, 2]", "[1][2]", "[Source 1]", "[source 1, 2]"; up to 3 digits per number.
_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d{1,3}(?:\s*(?:,|and|;)\s*(?:sources?\s*)?\d{1,3})*)\s*\]", re.I)
_NUMBER = re.compile(r"\d{1,3}")
# Space left where a marker was removed before punctuation: "Paris [9]." -> "Paris."
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?)])")
_MAX_PENDING = 32


@dataclass(slots=True)
class CitationCheck:
    """Result of validating the markers in an answer.

    Example::

        check = validate_citations(model_text, n_sources=len(sources))
        citations = [sources[n - 1] for n in check.cited]
    """

    text: str
    cited: list[int] = field(default_factory=list)
    invalid_numbers: list[int] = field(default_factory=list)
    markers: int = 0

    @property
    def invalid(self) -> int:
        return len(self.invalid_numbers)


def _rewrite(marker: re.Match[str], n_sources: int, check: CitationCheck) -> str:
    numbers = [int(n) for n in _NUMBER.findall(marker.group(1))]
    check.markers += len(numbers)
    valid = [n for n in numbers if 1 <= n <= n_sources]
    check.invalid_numbers.extend(n for n in numbers if not 1 <= n <= n_sources)
    for n in valid:
        if n not in check.cited:
            check.cited.append(n)
    return "".join(f"[{n}]" for n in valid)


def tidy_removed_markers(text: str) -> str:
    """Close the gap a removed marker leaves before punctuation: ``"Paris [9]."`` -> ``"Paris."``."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def validate_citations(text: str, n_sources: int) -> CitationCheck:
    """Keep markers that point at sources 1..n_sources; remove and count the rest."""
    check = CitationCheck(text="")
    rewritten = _MARKER.sub(lambda m: _rewrite(m, n_sources, check), text)
    check.text = tidy_removed_markers(rewritten) if check.invalid else rewritten
    return check


class CitationStreamFilter:
    """Applies ``validate_citations`` to a stream of text deltas.

    Example::

        citations = CitationStreamFilter(n_sources=3)
        for delta in stream:
            yield citations.feed(delta)
        yield citations.flush()
        citations.check.cited     # numbers cited, in order of first use
    """

    def __init__(self, n_sources: int) -> None:
        self._n_sources = n_sources
        self._pending = ""
        self.check = CitationCheck(text="")

    def feed(self, delta: str) -> str:
        self._pending += delta
        out: list[str] = []
        while self._pending:
            start = self._pending.find("[")
            if start < 0:
                out.append(self._pending)
                self._pending = ""
                break
            out.append(self._pending[:start])
            self._pending = self._pending[start:]
            end = self._pending.find("]")
            if end < 0:
                if len(self._pending) <= _MAX_PENDING and "\n" not in self._pending:
                    break  # may still become a marker: wait for more text
                out.append(self._pending[0])  # not a marker: release the bracket
                self._pending = self._pending[1:]
                continue
            out.append(self._resolve(self._pending[: end + 1]))
            self._pending = self._pending[end + 1 :]
        return self._emit("".join(out))

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._emit(rest)

    def _resolve(self, candidate: str) -> str:
        match = _MARKER.fullmatch(candidate)
        if match is None:
            return candidate
        return _rewrite(match, self._n_sources, self.check)

    def _emit(self, text: str) -> str:
        self.check.text += text
        return text
