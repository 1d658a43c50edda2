"""Derives, ahead of the first request, the model files the default path computes with: the int8-computing
copy of the packaged embedder and the planted-instruction detector's first layers of it
(``ingest/onnx_quantize.py``). Each is built on first use otherwise, which costs the first ingest or
question of a fresh container tens of seconds. The Dockerfile runs this at image build, into the cache
folder that the image's ``RAGQA_MODEL_CACHE`` names, and scripts/install.sh once per machine::

    RAGQA_MODEL_CACHE=/opt/ragqa/models python -m bootstrap.models

Both files are keyed by their source's hash and recipe, so a run that finds them builds nothing.
"""

from __future__ import annotations

from pathlib import Path

from generation.guardrails.instructions import InstructionModel
from ingest.embedding_model import default_model_path
from ingest.onnx_embedding import default_onnx_path
from ingest.onnx_quantize import first_layers_model, int8_compute_model


def derive_default_models() -> list[Path]:
    """The paths of the derived files, built where missing: the embedder's, then the detector's."""
    embedder = int8_compute_model(default_onnx_path(), default_model_path())
    return [embedder, first_layers_model(embedder, InstructionModel.load().layers)]


if __name__ == "__main__":
    for path in derive_default_models():
        print(path)
