"""Fixtures of the index contract suite: each embedded backend, in a fresh folder, holding the corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.index import VectorIndex
from tests.integration.retrieval.corpus import BACKENDS, load_corpus, open_backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def index(backend: str, store: Path) -> Iterator[VectorIndex]:
    """An index of its own holding the corpus, for a test that changes it; closed afterwards."""
    opened = open_backend(backend, store)
    load_corpus(opened)
    yield opened
    opened.close()


@pytest.fixture(scope="module", params=BACKENDS)
def corpus_index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorIndex]:
    """One index holding the corpus per backend, shared by the tests that only read."""
    opened = open_backend(str(request.param), tmp_path_factory.mktemp(f"store-{request.param}"))
    load_corpus(opened)
    yield opened
    opened.close()
