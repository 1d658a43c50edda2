"""The output guardrail: citations must point at sources in the prompt, in full text and in streams."""

from __future__ import annotations

import random

import pytest

from generation.guardrails.citations import CitationStreamFilter, validate_citations


def test_valid_markers_are_kept_and_listed_in_first_use_order() -> None:
    check = validate_citations("B [2]. A [1]. B again [2].", n_sources=2)
    assert check.text == "B [2]. A [1]. B again [2]."
    assert check.cited == [2, 1]
    assert check.invalid == 0
    assert check.markers == 3


def test_invalid_markers_are_removed_and_counted() -> None:
    check = validate_citations("Paris [1][7]. Rome [0]. Both [1, 9].", n_sources=3)
    assert check.text == "Paris [1]. Rome. Both [1]."
    assert check.invalid_numbers == [7, 0, 9]
    assert check.cited == [1]


def test_variants_are_normalized() -> None:
    check = validate_citations("X [Source 2] and Y [1; 2] and Z [1 and 3].", n_sources=3)
    assert check.text == "X [2] and Y [1][2] and Z [1][3]."


def test_non_citation_brackets_are_left_alone() -> None:
    text = "See [the appendix] and the array a[i]."
    assert validate_citations(text, n_sources=2).text == text


@pytest.mark.parametrize("seed", range(20))
def test_stream_filter_matches_full_text_validation_on_any_split(seed: int) -> None:
    text = "Lincoln [1] was born in 1809 [3][12], see [notes] and [2, 8]. [Source 2] ends [4"
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), 8))
    pieces = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    stream = CitationStreamFilter(n_sources=3)
    shown = "".join(stream.feed(p) for p in pieces) + stream.flush()
    full = validate_citations(text, n_sources=3)
    assert stream.check.cited == full.cited == [1, 3, 2]
    assert stream.check.invalid_numbers == full.invalid_numbers == [12, 8]
    assert "[12]" not in shown and "[8]" not in shown
    assert shown.replace(" ", "") == full.text.replace(" ", "")
