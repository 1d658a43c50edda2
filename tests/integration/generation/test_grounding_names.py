"""Grounding checks what a generated sentence claims: a name, place or number the cited sentence
(read with its neighbours and its document's title) does not hold leaves the sentence unsupported,
however alike the two read (auto mode once passed "born in Springfield, Illinois" for Celsius)."""

from __future__ import annotations

from typing import Any

import pytest

from generation.attribution import Attributor
from generation.evidence import EvidenceModel, EvidenceScorer
from retrieval.sparse import Bm25SparseEncoder
from tests.support.fakes import make_chunk

CELSIUS = ("Anders Celsius was born in Uppsala in Sweden on 27 November 1701. His family originated from Ovanaker "
           "in the province of Halsingland. He was professor of astronomy at Uppsala University from 1730 to 1744.")


@pytest.fixture(scope="module")
def attributor(embedder: Any) -> Attributor:
    return Attributor(EvidenceScorer(embedder, Bm25SparseEncoder(), EvidenceModel.load()), threshold=0.5)


@pytest.mark.parametrize(("claim", "supported"), [
    ("Anders Celsius was born in Uppsala, Sweden [1].", True),
    ("Anders Celsius was born in Springfield, Illinois [1].", False),
    ("Celsius taught astronomy at Uppsala University [1].", True),
    ("Celsius taught astronomy at Harvard University [1].", False),
    ("Anders Celsius was born in 1701 [1].", True),
    ("Anders Celsius was born in 1710 [1].", False),
])  # fmt: skip
def test_names_and_numbers_must_be_in_the_cited_sentence(attributor: Attributor, claim: str, supported: bool) -> None:
    [result] = attributor.attribute(claim, [make_chunk(1, CELSIUS, dense=0.7)])
    assert result.supported is supported, result
