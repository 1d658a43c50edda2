"""Fixtures for the generation unit tests (no sockets, no model)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.errors import RagqaError
from core.types import ScoredChunk
from generation.answerer import Answerer
from tests.support.answerers import assemble_answerer
from tests.support.fakes import FakeChatModel, FakeRetriever, make_chunk


@pytest.fixture
def chunks() -> list[ScoredChunk]:
    return [
        make_chunk(1, "Paris is the capital and largest city of France.", dense=0.71),
        make_chunk(2, "France is a country in Western Europe.", dense=0.52),
        make_chunk(3, "The Eiffel Tower was completed in 1889.", dense=0.33),
    ]


@pytest.fixture
def make_answerer(chunks: list[ScoredChunk]) -> Callable[..., tuple[Answerer, FakeChatModel, FakeRetriever]]:
    def build(
        replies: list[str | RagqaError] | None = None,
        retrieved: list[ScoredChunk] | None = None,
        **kwargs: object,
    ) -> tuple[Answerer, FakeChatModel, FakeRetriever]:
        model = FakeChatModel(replies=replies) if replies is not None else FakeChatModel()
        retriever = FakeRetriever(retrieved if retrieved is not None else chunks)
        return assemble_answerer(retriever, model, **kwargs), model, retriever  # type: ignore[arg-type]

    return build
