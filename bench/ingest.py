"""Ingestion throughput: the pipeline against raw embedders and LlamaIndex, on the same documents.

    .venv/bin/python -m bench.ingest --copies 1
    .venv/bin/python -m bench.ingest --copies 10 --skip-llamaindex

In one process, on the cmu-qa-dev articles (`--copies` times over under distinct doc ids):

- the pipeline (parse, chunk, embed with the default embedder, BM25, upsert into a fresh
  embedded store), timed whole;
- the raw fp32 sentence-transformers embedder (`SentenceTransformer.encode`) and the raw int8
  ONNX embedder, each alone on exactly the chunk texts the pipeline embeds (one copy's worth:
  copies are identical texts), timed before and after the pipeline (the faster run counts,
  which is the harder bar);
- LlamaIndex's own `IngestionPipeline` on the same documents: `SentenceSplitter` of the same
  size and overlap in the same tokens, the same model through `HuggingFaceEmbedding`, a Qdrant
  vector store (bench/ingest_yardsticks.py).

Peak RSS is measured in two child processes that run the pipeline alone, one with the default
embedder and one with the fp32 sentence-transformers backend (the previous default), so the
yardsticks loaded here do not count. Bars (issue #16): pipeline >= 2.0x the raw fp32 embedder and
>= 1.5x LlamaIndex in chunks/s; peak RSS within +20% of the fp32 pipeline's.
Results: bench/results/ingest-<copies>x.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import peak_rss_mb, write_results
from bench.ingest_yardsticks import Rate, fp32_sentence_transformers, llamaindex_pipeline, raw_rate, timed
from core.logging import configure_logging
from core.protocols import Embedder
from core.settings import Settings
from core.types import Document, embedding_text
from ingest.chunking import Chunker
from ingest.embedders import embedder_from_settings
from ingest.embedding_model import default_model_path
from ingest.parsing import parse_bytes
from ingest.pipeline import IngestPipeline
from ingest.sources import SourceDocument, iter_sources
from retrieval.backends import open_index
from retrieval.sparse import Bm25SparseEncoder

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu-qa-dev" / "articles"


def copies_of(corpus: Path, glob: str, copies: int) -> list[SourceDocument]:
    base = list(iter_sources([corpus], glob))
    return [
        SourceDocument(f"copy{k}/{s.doc_id}", s.name, s.source, path=s.path)
        for k in range(copies) for s in base
    ]


def chunk_texts(embedder: Embedder, settings: Settings,
                sources: list[SourceDocument]) -> list[str]:
    """Exactly the texts the pipeline embeds for these documents (same parser, chunker, header)."""
    chunker = Chunker(embedder.tokenize, embedder.max_seq_length, settings.chunking)
    texts = []
    for source in sources:
        parsed = parse_bytes(source.read(settings.ingest.max_file_bytes), source.name)
        doc = Document(source.doc_id, parsed.title or Path(source.name).stem, source.source, parsed.text,
                       format=parsed.format)
        texts.extend(embedding_text(c.title, c.text) for c in chunker.chunk(doc, datetime.now(UTC)))
    return texts


FP32 = "sentence-transformers"
INT8 = "onnx-int8"
BARS = {"over_raw_fp32": 2.0, "over_llamaindex": 1.5, "rss_growth": 0.20}


def run_pipeline(settings: Settings, sources: list[SourceDocument]) -> Rate:
    """The whole pipeline into a fresh store; model loading outside the timing."""
    embedder = embedder_from_settings(settings.embedding)
    embedder.embed_documents(["warm up the model"] * 8)
    index = open_index(settings.qdrant)
    pipeline = IngestPipeline(embedder, Bm25SparseEncoder(), index, settings)
    try:
        reports = []
        rate = timed(0, lambda: reports.append(pipeline.ingest(sources, "bench")))
        assert not reports[0].failures, reports[0].failures
        return Rate(reports[0].chunks_written, rate.seconds, rate.cpu_seconds)
    finally:
        pipeline.close()
        index.close()


def pipeline_alone(backend: str, copies: int, corpus: Path, glob: str) -> dict[str, float]:
    """Runs the pipeline in a child process: its rate and its own peak RSS."""
    command = [sys.executable, "-m", "bench.ingest", "--pipeline-only", "--copies", str(copies),
               "--corpus", str(corpus), "--glob", glob]
    env = {**os.environ, "RAGQA_EMBEDDING__BACKEND": backend}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=3600).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--glob", default="*.txt", help="which article files (the .htm are the same articles)")
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--backend", default="auto", choices=["auto", "edge", "local"])
    parser.add_argument("--skip-llamaindex", action="store_true", help="at 10 copies it takes ~10 minutes")
    parser.add_argument("--pipeline-only", action="store_true", help=argparse.SUPPRESS)  # the RSS children
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_logging("WARNING")
    sources = copies_of(args.corpus, args.glob, args.copies)
    if args.pipeline_only:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(qdrant={"path": Path(tmp) / "qdrant", "backend": args.backend})
            rate = run_pipeline(settings, sources)
        print(json.dumps({**rate.as_json(), "peak_rss_mb": round(peak_rss_mb(), 1)}))
        return

    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(qdrant={"path": Path(tmp) / "qdrant", "backend": args.backend})
        int8 = embedder_from_settings(settings.embedding.model_copy(update={"backend": INT8}))
        fp32_path = default_model_path() if settings.embedding.model_path is None else settings.embedding.model_path
        fp32 = fp32_sentence_transformers(fp32_path, settings.embedding.batch_size)
        texts = chunk_texts(int8, settings, [s for s in sources if s.doc_id.startswith("copy0/")])
        step = max(64, settings.embedding.batch_size * 4)  # what the pipeline hands its embedder at once
        fp32(texts[:8])
        int8.embed_documents(texts[:8])
        raw: dict[str, list[Rate]] = {FP32: [raw_rate(fp32, texts, step)],
                                      INT8: [raw_rate(int8.embed_documents, texts, step)]}
        pipeline = run_pipeline(settings, sources)
        llamaindex = None if args.skip_llamaindex else llamaindex_pipeline(
            [s for s in sources if s.doc_id.startswith("copy0/")], settings, fp32_path, int8.tokenize)
        raw[INT8].append(raw_rate(int8.embed_documents, texts, step))
        raw[FP32].append(raw_rate(fp32, texts, step))
    best = {name: max(rates, key=lambda r: r.per_s) for name, rates in raw.items()}

    def runs(name: str) -> list[float]:
        return [round(r.per_s, 2) for r in raw[name]]

    rss = {"default": pipeline_alone(settings.embedding.backend, args.copies, args.corpus, args.glob),
           FP32: pipeline_alone(FP32, args.copies, args.corpus, args.glob)}
    rss_growth = rss["default"]["peak_rss_mb"] / rss[FP32]["peak_rss_mb"] - 1
    ratios = {"over_raw_fp32": pipeline.per_s / best[FP32].per_s,
              "over_raw_fp32_cpu": pipeline.per_cpu_s / best[FP32].per_cpu_s,
              "over_raw_int8": pipeline.per_s / best[INT8].per_s,
              "int8_over_fp32": best[INT8].per_s / best[FP32].per_s}
    if llamaindex is not None:
        ratios["over_llamaindex"] = pipeline.per_s / llamaindex.per_s
        ratios["over_llamaindex_cpu"] = pipeline.per_cpu_s / llamaindex.per_cpu_s
    passes = {"over_raw_fp32": ratios["over_raw_fp32"] >= BARS["over_raw_fp32"],
              "rss": rss_growth <= BARS["rss_growth"]}
    if llamaindex is not None:
        passes["over_llamaindex"] = ratios["over_llamaindex"] >= BARS["over_llamaindex"]
    results = {
        "inputs": {"corpus": str(args.corpus), "glob": args.glob, "copies": args.copies,
                   "documents": len(sources), "backend": args.backend, "embedder": settings.embedding.backend,
                   "batch_size": settings.embedding.batch_size, "chunk_size": settings.chunking.chunk_size},
        "pipeline": pipeline.as_json(),
        "raw_fp32_sentence_transformers": {**best[FP32].as_json(), "runs_chunks_per_s": runs(FP32)},
        "raw_int8_onnx": {**best[INT8].as_json(), "runs_chunks_per_s": runs(INT8)},
        "llamaindex_pipeline": llamaindex.as_json() if llamaindex is not None else None,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "peak_rss_mb": {"pipeline_default": rss["default"]["peak_rss_mb"], "pipeline_fp32": rss[FP32]["peak_rss_mb"],
                        "growth": round(rss_growth, 3)},
        "bars": BARS, "passes": passes,
    }
    path = write_results(f"ingest-{args.copies}x", results)
    table = Table(title=f"ingest benchmark, {args.copies} cop{'y' if args.copies == 1 else 'ies'}, same process")
    for col in ("run", "chunks", "chunks/s", "chunks/CPU s", "pipeline is"):
        table.add_column(col, justify="right")
    table_rows = [(f"pipeline ({settings.embedding.backend})", pipeline),
                  ("raw fp32 sentence-transformers", best[FP32]), ("raw int8 onnx", best[INT8])]
    if llamaindex is not None:
        table_rows.append(("LlamaIndex IngestionPipeline", llamaindex))
    for name, rate in table_rows:
        table.add_row(name, str(rate.chunks), f"{rate.per_s:.1f}", f"{rate.per_cpu_s:.1f}",
                      f"{pipeline.per_s / rate.per_s:.2f}x")
    console.print(table)
    console.print(f"peak RSS, pipeline alone: {rss['default']['peak_rss_mb']:.0f} MB with the default embedder, "
                  f"{rss[FP32]['peak_rss_mb']:.0f} MB with fp32 ({rss_growth:+.1%}); passes: {passes}")
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
