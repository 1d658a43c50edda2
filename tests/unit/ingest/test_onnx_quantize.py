"""The int8 recipe's steps on the real packaged model: smoothing changes no result in float, and every
weight product of the built model computes in int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from core.errors import ConfigurationError
from ingest import onnx_quantize
from ingest.embedding_model import default_model_path
from ingest.onnx_embedding import default_onnx_path


@pytest.fixture(scope="module")
def folded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("quantize") / "folded.onnx"
    onnx_quantize._fold_weights(default_onnx_path(), target)
    return target


def _run(model: Path, ids: list[int]) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    batch = np.array([ids], dtype=np.int64)
    feeds = {"input_ids": batch, "attention_mask": np.ones_like(batch), "token_type_ids": np.zeros_like(batch)}
    return np.asarray(session.run(None, feeds)[0])


def test_smoothing_moves_scale_between_activations_and_weights_without_changing_the_output(
    folded: Path, tmp_path: Path
) -> None:
    smoothed = tmp_path / "smoothed.onnx"
    onnx_quantize._smooth(folded, smoothed, default_model_path())
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    ids = tokenizer.encode("Who built the first steam locomotive, and where did it run?").ids
    before, after = _run(folded, ids), _run(smoothed, ids)
    np.testing.assert_allclose(after, before, rtol=1e-3, atol=1e-4)
    model = onnx.load(str(smoothed))
    smoothing = [n for n in model.graph.node if n.name.endswith("_smooth")]
    assert len(smoothing) == 36  # 6 layers x (Q, K, V, attention output, FFN up, FFN down)


def test_the_built_model_computes_every_weight_product_in_int8(tmp_path: Path) -> None:
    built = onnx_quantize.int8_compute_model(default_onnx_path(), default_model_path(), folder=tmp_path)
    assert built.parent == tmp_path and onnx_quantize.RECIPE in built.name
    ops = [n.op_type for n in onnx.load(str(built)).graph.node]
    integer = sum(op in {"MatMulInteger", "DynamicQuantizeMatMul"} for op in ops)
    assert integer == 36
    assert "MatMul" in ops  # attention's activation-by-activation products stay float
    assert not list(tmp_path.glob(".build-*"))  # the work folder is gone; only the model stays
    assert onnx_quantize.int8_compute_model(default_onnx_path(), default_model_path(), folder=tmp_path) == built


def test_missing_calibration_texts_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(onnx_quantize, "CALIBRATION_FILE", tmp_path / "absent.txt")
    with pytest.raises(ConfigurationError, match="calibration"):
        onnx_quantize.calibration_texts()
    (tmp_path / "absent.txt").write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no calibration texts"):
        onnx_quantize.calibration_texts()


def test_first_layers_keeps_exactly_the_layers_asked_for(tmp_path: Path) -> None:
    built = onnx_quantize.int8_compute_model(default_onnx_path(), default_model_path())
    four = onnx_quantize.first_layers_model(built, 4, folder=tmp_path)
    ops = [n.op_type for n in onnx.load(str(four)).graph.node]
    assert sum(op in {"MatMulInteger", "DynamicQuantizeMatMul"} for op in ops) == 24  # 4 layers x 6 products
    assert onnx_quantize.first_layers_model(built, 4, folder=tmp_path) == four  # built once
    assert not list(tmp_path.glob(".build-*"))
    # All six layers: the cut lands on the model's own output, so the layer count is read right.
    ids = [101, 2040, 2328, 1996, 2034, 102]
    np.testing.assert_array_equal(_run(onnx_quantize.first_layers_model(built, 6, folder=tmp_path), ids),
                                  _run(built, ids))
    hidden = _run(four, ids)
    assert hidden.shape == (1, len(ids), 384) and not np.allclose(hidden, _run(built, ids))


@pytest.mark.parametrize("layers", [0, 7])
def test_first_layers_outside_the_model_is_a_configuration_error(layers: int, tmp_path: Path) -> None:
    built = onnx_quantize.int8_compute_model(default_onnx_path(), default_model_path())
    with pytest.raises(ConfigurationError, match=f"first {layers} layers .* it has 6"):
        onnx_quantize.first_layers_model(built, layers, folder=tmp_path)
