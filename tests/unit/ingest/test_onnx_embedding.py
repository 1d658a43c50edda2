"""The onnx-int8 embedder against the sentence-transformers one: same tokens, near-identical vectors.

Both are the real models from their packages (no services, no sockets).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigurationError
from core.protocols import Embedder
from core.settings import EmbeddingSettings
from ingest.embedders import embedder_from_settings
from ingest.embedding import SentenceTransformerEmbedder
from ingest.onnx_embedding import OnnxEmbedder, default_onnx_path
from ingest.onnx_quantize import RECIPE
from tests.support.forking import in_forked_child

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def onnx() -> OnnxEmbedder:
    return OnnxEmbedder.from_settings(EmbeddingSettings())


@pytest.fixture(scope="module")
def fp32() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder.from_settings(EmbeddingSettings(backend="sentence-transformers"))


@pytest.fixture(scope="module")
def texts(corpus_dir: Path) -> list[str]:
    """Real passages of every length: whole articles (past 256 tokens), paragraphs, a question, a word."""
    articles = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(corpus_dir.glob("set*/a*.txt"))[:4]]
    paragraphs = [p for a in articles for p in a.split("\n") if len(p.split()) > 20][:6]
    return [*articles, *paragraphs, "Who built the first steam locomotive?", "Kangaroo", "naïve café — 東京 🚀"]


def test_is_an_embedder_with_the_fp32_model_s_shape(onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder) -> None:
    assert isinstance(onnx, Embedder)
    assert (onnx.model_name, onnx.dimension, onnx.max_seq_length) == (fp32.model_name, fp32.dimension, 256)
    assert fp32.max_seq_length == 256
    assert onnx.identity == f"all-MiniLM-L6-v2/onnx-int8/{RECIPE}"  # the int8 copy's recipe: its vectors
    assert fp32.identity == "all-MiniLM-L6-v2/sentence-transformers"


def test_token_ids_and_truncation_match_the_fp32_embedder(
    onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder, texts: list[str]
) -> None:
    for text in texts:
        assert onnx.tokenize(text) == fp32.tokenize(text)
        assert onnx.count_tokens(text) == fp32.count_tokens(text)
    assert max(onnx.count_tokens(t) for t in texts) > 256  # the articles run past the limit: chunking sees all
    # What the model is fed: sentence-transformers' own preprocessing, 256 tokens with [CLS] and [SEP].
    features = fp32._model.tokenize(texts)
    for text, ids, mask in zip(texts, features["input_ids"].tolist(), features["attention_mask"].tolist(), strict=True):
        fed = [i for i, m in zip(ids, mask, strict=True) if m]
        assert onnx._truncating.encode(text).ids == fed
        assert len(fed) <= 256


def test_vectors_are_normalized_and_close_to_fp32(
    onnx: OnnxEmbedder, fp32: SentenceTransformerEmbedder, texts: list[str]
) -> None:
    ours, theirs = onnx.embed_documents(texts), fp32.embed_documents(texts)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # Int8 arithmetic on smoothed activations: cosine 0.997-0.999 to fp32 here (0.990 unsmoothed).
    # The retrieval evals (BENCHMARKS.md) bound what that costs; this catches a broken recipe.
    assert float(np.min(np.sum(ours * theirs, axis=1))) > 0.995
    assert float(np.mean(np.sum(ours * theirs, axis=1))) > 0.997
    query = "Who built the first steam locomotive?"
    assert float(onnx.embed_query(query) @ fp32.embed_query(query)) > 0.995


def test_texts_run_side_by_side_give_the_vectors_of_texts_run_one_at_a_time(texts: list[str]) -> None:
    serial = OnnxEmbedder.from_settings(EmbeddingSettings(threads=1))
    parallel = OnnxEmbedder.from_settings(EmbeddingSettings(threads=3))
    assert serial._parallel_runs() is None and parallel._parallel_runs() is not None
    mixed = texts * 2
    random.Random(3).shuffle(mixed)
    np.testing.assert_array_equal(parallel.embed_documents(mixed), serial.embed_documents(mixed))
    assert list(parallel._sessions) == [1]  # every run on one thread of one session


def test_first_layers_embed_each_text_alone_into_unit_vectors(onnx: OnnxEmbedder, texts: list[str]) -> None:
    encoder = OnnxEmbedder.first_layers(4, threads=2)
    assert encoder.dimension == 384 and encoder.model_name.endswith("-first4")
    vectors = encoder.embed_documents(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # A text's vector is its own: the same in any company (the detector caches verdicts by text).
    np.testing.assert_array_equal(encoder.embed_documents(texts[::-1])[::-1], vectors)
    full = onnx.embed_documents(texts)
    assert float(np.max(np.sum(vectors * full, axis=1))) < 0.99  # an earlier layer's reading, not the model's


def test_batches_keep_the_callers_order(onnx: OnnxEmbedder, texts: list[str]) -> None:
    mixed = texts * 3  # longest-first batching regroups these across several batches
    random.Random(7).shuffle(mixed)
    together = onnx.embed_documents(mixed)
    alone = np.vstack([onnx.embed_documents([t]) for t in mixed])
    # A text's vector depends on the text alone: not on its batch, nor on the query path.
    assert float(np.min(np.sum(together * alone, axis=1))) > 0.99999
    for text, row in zip(mixed, together, strict=True):
        assert float(row @ onnx.embed_query(text)) > 0.99999


def test_empty_input(onnx: OnnxEmbedder) -> None:
    empty = onnx.embed_documents([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert onnx.embed_documents([""]).shape == (1, 384)  # just [CLS] [SEP]: still a unit vector
    assert onnx.tokenize("") == []


def test_query_cache_returns_the_same_read_only_vector_until_cleared(onnx: OnnxEmbedder) -> None:
    first = onnx.embed_query("how do kangaroos cool down?")
    assert onnx.embed_query("how do kangaroos cool down?") is first
    assert not first.flags.writeable
    onnx._cache.clear()  # what the benchmarks do to time real embeddings
    again = onnx.embed_query("how do kangaroos cool down?")
    assert again is not first and np.array_equal(again, first)


def test_query_cache_is_a_bounded_lru() -> None:
    small = OnnxEmbedder(default_onnx_path(), _tokenizer_dir(), name="m", query_cache_size=2)
    a = small.embed_query("a")
    small.embed_query("b")
    assert small.embed_query("a") is a  # a is now the most recent
    small.embed_query("c")  # evicts b
    assert len(small._cache) == 2 and small.embed_query("a") is a
    off = OnnxEmbedder(default_onnx_path(), _tokenizer_dir(), name="m", query_cache_size=0)
    assert off.embed_query("a") is not off.embed_query("a")


def test_threads_share_one_embedder(onnx: OnnxEmbedder, texts: list[str]) -> None:
    onnx._cache.clear()
    serial = [(onnx.tokenize(t), onnx.embed_documents([t, texts[0]])) for t in texts]
    onnx._cache.clear()

    def work(text: str) -> tuple[list[int], np.ndarray]:
        onnx.embed_query(text)
        return onnx.tokenize(text), onnx.embed_documents([text, texts[0]])

    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(work, texts * 2))
    for (ids, vectors), (want_ids, want) in zip(parallel, serial * 2, strict=True):
        assert ids == want_ids
        np.testing.assert_allclose(vectors, want, atol=1e-5)


def test_set_threads_serves_queries_and_documents_from_one_session(texts: list[str]) -> None:
    embedder = OnnxEmbedder(default_onnx_path(), _tokenizer_dir(), name="m", threads=2, query_threads=1)
    before = embedder.embed_documents(texts[:3])
    embedder.set_threads(1)
    assert list(embedder._sessions) == [1]
    np.testing.assert_allclose(embedder.embed_documents(texts[:3]), before, atol=1e-5)
    assert list(embedder._sessions) == [1]


def test_factory_picks_the_backend_by_settings() -> None:
    assert EmbeddingSettings().backend == "onnx-int8"
    assert isinstance(embedder_from_settings(EmbeddingSettings()), OnnxEmbedder)
    with pytest.raises(ValueError):
        EmbeddingSettings(backend="torch")  # type: ignore[arg-type]


def test_a_model_folder_of_its_own_names_the_identity(tmp_path: Path) -> None:
    folder = tmp_path / "minilm-int8-custom"
    folder.mkdir()
    (folder / "model.onnx").symlink_to(default_onnx_path())
    for name in ("tokenizer.json", "sentence_bert_config.json"):
        (folder / name).symlink_to(_tokenizer_dir() / name)
    embedder = embedder_from_settings(EmbeddingSettings(model_path=folder))
    assert (embedder.model_name, embedder.identity) == ("minilm-int8-custom", "minilm-int8-custom/onnx-int8")
    assert embedder.max_seq_length == 256
    (folder / "model.onnx").unlink()
    with pytest.raises(ConfigurationError, match=r"model\.onnx"):
        embedder_from_settings(EmbeddingSettings(model_path=folder))


def test_the_onnx_backend_never_imports_torch() -> None:
    """Ingest and query on the default backend, in a fresh interpreter: torch stays out of the process."""
    code = textwrap.dedent("""
        import sys, tempfile
        from pathlib import Path
        from core.settings import Settings
        from bootstrap.components import Components
        from ingest.sources import SourceDocument
        root = Path(tempfile.mkdtemp())
        with Components(Settings(qdrant={"path": root / "q"}, ingest={"parse_isolation": False})) as parts:
            text = b"Kangaroos hop across the outback. They cool down by licking their forearms."
            parts.pipeline.ingest([SourceDocument("k.txt", "k.txt", "mem://k", data=text)], "docs")
            assert parts.retriever.search("How do kangaroos cool down?", "docs", top_k=1)
        print(sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env = {k: v for k, v in env.items() if not k.startswith("RAGQA_")}  # the defaults, whatever the shell says
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _tokenizer_dir() -> Path:
    from ingest.embedding_model import default_model_path

    return default_model_path()


def test_a_forked_process_embeds_side_by_side_on_threads_of_its_own(texts: list[str]) -> None:
    """The parent's pool has no live threads in a forked child (a prefork server that warmed the
    embedder up): the child must make its own, or every embedding would wait forever."""
    encoder = OnnxEmbedder.first_layers(4, threads=2)
    expected = encoder.embed_documents(texts[:4])  # the parent's pool now has threads
    assert in_forked_child(lambda: np.array_equal(encoder.embed_documents(texts[:4]), expected), 30) == "passed"
