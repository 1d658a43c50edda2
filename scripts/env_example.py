"""Writes .env.example from the settings model: every ``RAGQA_*`` setting with its description and
default, then the variables docker-compose.yml reads. Run it after adding or changing a setting;
a unit test fails while the committed file is out of date.

    .venv/bin/python scripts/env_example.py           # rewrite .env.example
    .venv/bin/python scripts/env_example.py --check   # exit 1 if it is out of date

Every line is commented out, so copying the file to ``.env`` changes nothing until a line is
uncommented: the defaults live in the code, not here.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the packages live beside this folder

from core.settings import Settings  # noqa: E402

TARGET = REPO / ".env.example"
WIDTH = 100

# The ${NAME:-default} variables of docker-compose.yml: name, default ("" = unset), description.
COMPOSE_VARIABLES: list[tuple[str, str, str]] = [
    ("COMPOSE_PROFILES", "", "The profile a plain `docker compose up -d` starts: `cpu` (extractive answers, no "
     "LLM, no GPU) or `gpu` (vLLM on an NVIDIA GPU), plus `flower` if wanted, comma-separated. Unset: give "
     "`--profile cpu` or `--profile gpu` on the command line."),
    ("API_IMAGE_TAG", "latest", "Tag of the ragqa image that `docker compose build` makes and the api and "
     "worker services run."),
    ("API_HTTP_PORT", "8000", "Host port of the API (and of the demo page at /)."),
    ("API_BIND", "127.0.0.1", "Host address the API's port is published on. Loopback by default: set API "
     "keys (RAGQA_API__API_KEYS_SHA256) and API_INSECURE=false before publishing it on 0.0.0.0."),
    ("API_INSECURE", "true", "RAGQA_API__INSECURE in the api container, which binds 0.0.0.0 inside it: lets "
     "it serve with no API keys, safe only while API_BIND is loopback."),
    ("QDRANT_VERSION", "v1.19.0", "qdrant/qdrant image tag; keep it within one minor version of qdrant-client."),
    ("REDIS_VERSION", "7.4-alpine", "redis image tag, for both the cache and the broker."),
    ("REDIS_CACHE_MAXMEMORY", "1gb", "Memory of the cache Redis; past it the least frequently used keys are "
     "evicted (allkeys-lfu). Feedback shares it (job records go to the broker: RAGQA_REDIS__JOBS_URL); "
     "size it so that answers are what goes."),
    ("VLLM_VERSION", "v0.11.0", "vllm/vllm-openai image tag."),
    ("VLLM_MODEL", "meta-llama/Llama-3.1-8B-Instruct", "Hugging Face model vLLM serves (downloaded on first start "
     "into the hf-cache volume). A Llama-family chat model, which the prompts are written for; Meta's "
     "repositories are gated: set HF_TOKEN, or name an ungated copy."),
    ("VLLM_SERVED_MODEL_NAME", "llama-3.1-8b-instruct", "Name the model is served under; ragqa sends it "
     "(RAGQA_LLM__MODEL), and it is part of the answer cache key."),
    ("VLLM_MAX_MODEL_LEN", "8192", "Context length vLLM allocates (--max-model-len); also ragqa's "
     "RAGQA_LLM__CONTEXT_WINDOW, so prompts are budgeted to what the server accepts."),
    ("VLLM_GPU_MEMORY_UTILIZATION", "0.90", "Share of GPU memory vLLM may take (weights plus KV cache)."),
    ("VLLM_GPUS", "1", "GPUs reserved for vLLM, and its tensor-parallel size."),
    ("VLLM_QUANTIZATION", "", "Optional --quantization method, e.g. awq, gptq or fp8 (with a model quantized "
     "that way)."),
    ("VLLM_LORA_MODULES", "", "Optional LoRA adapters as name=path pairs, e.g. support=/adapters/support; "
     "enables --enable-lora. Ask an adapter by setting RAGQA_LLM__MODEL to its name."),
    ("VLLM_MAX_LORA_RANK", "16", "Largest LoRA rank among the adapters (--max-lora-rank)."),
    ("VLLM_ADAPTERS_DIR", "./adapters", "Host folder mounted read-only at /adapters in the vllm container."),
    ("VLLM_API_KEY", "", "Optional key vLLM requires (--api-key); ragqa sends it. Unset: no key."),
    ("VLLM_EXTRA_ARGS", "", "Any other vLLM flags, e.g. --max-num-seqs 64 --kv-cache-dtype fp8."),
    ("HF_TOKEN", "", "Hugging Face token, for gated models."),
    ("FLOWER_VERSION", "2.0", "mher/flower image tag (the optional `flower` profile)."),
    ("FLOWER_BASIC_AUTH", "", "user:password for Flower's dashboard; set it before exposing the port."),
]


def env_value(value: Any) -> str:
    """A default as an environment variable spells it (JSON for lists and dicts, as pydantic reads them)."""
    if value is None or value is PydanticUndefined:
        return ""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def comment(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - 2, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)


def section_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def settings_lines(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """``# description`` and ``# NAME=default`` for each field; a section's fields nest with ``__``."""
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        section = section_of(field.annotation)
        if section is not None:
            yield ""
            yield f"# ---- {name} " + "-" * (WIDTH - len(name) - 8)
            yield from settings_lines(section, env + "__")
            continue
        default = field.get_default(call_default_factory=True)
        yield from comment(field.description or "")
        yield f"# {env}={env_value(default)}"


def render() -> str:
    lines = [
        "# Every ragqa setting, generated from core/settings.py by scripts/env_example.py: do not edit by hand.",
        "# Copy to .env and uncomment what you change; `ragqa` reads .env from its working directory, and",
        "# docker compose passes it to the api and worker containers, where it wins over the compose file's",
        "# defaults. Nested sections use `__`.",
        "# Lists and objects are JSON, e.g. RAGQA_API__CORS_ORIGINS='[\"https://www.example.com\"]'.",
    ]
    lines += settings_lines(Settings, "RAGQA_")
    lines += ["", "# ==== docker-compose.yml " + "=" * (WIDTH - 25)]
    lines += comment("Read by docker compose itself (from the shell or this file), not by ragqa.")
    for name, default, description in COMPOSE_VARIABLES:
        lines += ["", *comment(description), f"# {name}={default}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.exists() and TARGET.read_text() == text:
            return 0
        print(f"{TARGET.name} is out of date: run .venv/bin/python scripts/env_example.py", file=sys.stderr)
        return 1
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
