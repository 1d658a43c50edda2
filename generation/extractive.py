"""Extractive answers: the best evidence sentences, quoted exactly, each followed by its ``[n]``.

No model writes anything, so every sentence is a span of a document by construction; the
answer's claims are its quotes. Further sentences join the best one only when they score at
least ``ratio`` of it, and never twice (chunks overlap, so one sentence can come from two).

    >>> from core.sentences import SentenceSpan
    >>> e = Evidence(1, SentenceSpan(10, 34, "Lincoln was born in 1809."), 0.9)
    >>> compose_extractive([e], max_sentences=3, ratio=0.5)[0]
    'Lincoln was born in 1809. [1]'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.sentences import structured_line
from core.types import Citation, Claim, Quote, ScoredChunk
from generation.answers import make_citation
from generation.evidence import Evidence

# Headings and fragments ("History", "See also") inform the ranking, not the reader; a field or a
# setting ("Carrier: ParcelPoint Ground", "idle_timeout = 90s") is short and whole.
MIN_QUOTE_WORDS = 4
MIN_FIELD_TOKENS = 2
_TOKEN = re.compile(r"\w+")


def quotable(sentence: str) -> bool:
    """A sentence worth quoting as an answer: not a heading, not a fragment of a few words."""
    if sentence.lstrip().startswith("#"):
        return False
    if len(sentence.split()) >= MIN_QUOTE_WORDS:
        return True
    return structured_line(sentence.strip()) and len(_TOKEN.findall(sentence)) >= MIN_FIELD_TOKENS


def pick_sentences(evidence: Sequence[Evidence], max_sentences: int, ratio: float) -> list[Evidence]:
    """The best sentence, then others scoring at least ``ratio`` of it, without repeats."""
    if not evidence:
        return []
    best = evidence[0].score
    picked: list[Evidence] = []
    seen: set[tuple[int, int]] = set()
    texts: set[str] = set()
    for item in evidence:
        if len(picked) >= max_sentences or item.score < ratio * best:
            break
        key = (item.span.start, item.span.end)
        flat = " ".join(item.text.split()).lower()
        if key in seen or flat in texts or not quotable(item.text):
            continue
        seen.add(key)
        texts.add(flat)
        picked.append(item)
    return picked


def compose_extractive(evidence: Sequence[Evidence], max_sentences: int, ratio: float) -> tuple[str, list[Claim]]:
    """The answer text and its claims (one per quoted sentence)."""
    picked = pick_sentences(evidence, max_sentences, ratio)
    claims = [Claim(e.text, (e.source,), True, round(e.score, 4), Quote(e.source, e.span.start, e.span.end, e.text))
              for e in picked]
    text = " ".join(f"{' '.join(e.text.split())} [{e.source}]" for e in picked)
    return text, claims


def cite_claims(claims: Sequence[Claim], chunks: Sequence[ScoredChunk], fallback: dict[int, Quote] | None = None,
                also: Sequence[int] = ()) -> list[Citation]:
    """One citation per source number the claims (and ``also``) use, in order of first use, with its
    quote: the first claim's that cites it, else ``fallback``'s (the source's best evidence
    sentence), so every citation points at a sentence when evidence was scored."""
    numbers = [*also, *(n for c in claims for n in c.citations)]
    citations = []
    for number in dict.fromkeys(n for n in numbers if 1 <= n <= len(chunks)):
        quote = next((c.quote for c in claims if number in c.citations and c.quote is not None
                      and c.quote.number == number), None)
        citations.append(make_citation(number, chunks[number - 1], quote or (fallback or {}).get(number)))
    return citations


def best_quotes(evidence: Sequence[Evidence]) -> dict[int, Quote]:
    """The best evidence sentence of each source."""
    quotes: dict[int, Quote] = {}
    for item in evidence:
        quotes.setdefault(item.source, Quote(item.source, item.span.start, item.span.end, item.text))
    return quotes
