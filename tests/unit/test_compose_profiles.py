"""docker-compose.yml against the Compose Specification's JSON schema, and its two profiles.

No Compose v2 binary installs here, so the file is validated with ``jsonschema`` against the
schema Compose itself uses (``tests/data/compose-spec/``), both as written and as Compose sees it
after interpolation. The profiles are checked as data: ``cpu`` needs no GPU and no vLLM, ``gpu``
adds both; every ``RAGQA_*`` value is a default that ``.env`` (or the shell) replaces, except the
three the file itself depends on. That the API starts and answers with the cpu profile's settings
is tests/integration/api/test_compose_cpu_profile.py.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import jsonschema
import pytest

from core.settings import Settings
from tests.support.compose import (
    environment,
    interpolate,
    interpolate_all,
    load_compose,
    services_in,
    setting_exists,
    strings,
    variables,
)
from tests.support.environment import REPO

SCHEMA = REPO / "tests" / "data" / "compose-spec" / "compose-spec.json"
# Fixed in the file: the published port and the healthcheck name the API's port, the uploads volume
# is mounted at the upload dir, and HOST is inside the container (the host side is API_BIND).
FIXED = {"RAGQA_API__HOST", "RAGQA_API__PORT", "RAGQA_API__UPLOAD_DIR"}
# What a user might put in .env: LoRA's recipe (docs/deploy.md), a served name, an old knob.
DOTENV = {"RAGQA_LLM__MODEL": "support", "VLLM_SERVED_MODEL_NAME": "llama-lora", "VLLM_MAX_MODEL_LEN": "4096",
          "API_INSECURE": "false", "VLLM_GPUS": "2"}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("env", [None, {}, DOTENV], ids=["as-written", "defaults", "with-dotenv"])
def test_the_file_validates_against_the_compose_schema(compose: dict[str, Any], validator: jsonschema.Draft7Validator,
                                                       env: dict[str, str] | None) -> None:  # fmt: skip
    document = compose if env is None else interpolate_all(compose, env)
    assert errors(validator, document) == []


def test_the_schema_catches_what_compose_would_reject(compose: dict[str, Any],
                                                      validator: jsonschema.Draft7Validator) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["api-cpu"]["depends_on"]["qdrant"]["condition"] = "service_ready"
    broken["services"]["worker"]["profile"] = ["cpu"]  # misspelt: compose refuses unknown keys
    found = errors(validator, broken)
    assert any("api-cpu/depends_on" in e for e in found) and any("profile" in e for e in found), found


def test_both_profiles_exist_and_each_serves_the_api_once(compose: dict[str, Any]) -> None:
    cpu, gpu = services_in(compose, "cpu"), services_in(compose, "gpu")
    assert {"qdrant", "redis", "broker", "worker", "api-cpu"} == set(cpu)
    assert {"qdrant", "redis", "broker", "worker", "api-gpu", "vllm"} == set(gpu)
    for services in (cpu, gpu):
        assert [n for n, s in services.items() if s.get("command") == ["ragqa", "serve"]] == [
            n for n in services if n.startswith("api")]  # fmt: skip
        assert len([n for n, s in services.items() if s.get("ports")]) == 1  # one API on the port


def test_the_cpu_profile_needs_no_gpu_and_no_vllm(compose: dict[str, Any]) -> None:
    for name, service in services_in(compose, "cpu").items():
        assert "deploy" not in service and "gpus" not in service, name
        assert "vllm" not in (service.get("depends_on") or {}), name
        resolved = environment(service, {})
        assert not any("vllm" in value for value in resolved.values()), (name, resolved)
        assert not [k for k in resolved if k.startswith("RAGQA_LLM__")], name
    assert environment(compose["services"]["api-cpu"], {})["RAGQA_ANSWER__MODE"] == "extractive"


def test_the_cpu_profiles_settings_call_no_model(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("RAGQA_")]:
        monkeypatch.delenv(name)
    for name, value in environment(compose["services"]["api-cpu"], {}).items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # the container's environment, not a developer's .env
    assert settings.llm.base_url is None
    assert settings.answer.resolved_mode(has_llm_server=False) == "extractive"
    assert settings.workers.runner == "celery" and settings.qdrant.url == "http://qdrant:6333"


def test_the_gpu_api_does_not_wait_for_the_model(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["vllm"]["profiles"] == ["gpu"] and services["api-gpu"]["profiles"] == ["gpu"]
    assert services["api-cpu"]["profiles"] == ["cpu"]
    # The first start downloads the weights: the API serves extractive answers meanwhile (readiness:
    # degraded, still 200) instead of staying down for up to start_period.
    assert services["api-gpu"]["depends_on"]["vllm"] == {"condition": "service_started"}
    env = environment(services["api-gpu"], {})
    assert env["RAGQA_LLM__BASE_URL"] == "http://vllm:8000/v1" and env["RAGQA_ANSWER__MODE"] == "auto"
    assert "vllm" not in services["worker"]["depends_on"]


def test_every_ragqa_value_is_a_default_that_dotenv_replaces(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if not key.startswith("RAGQA_"):
                continue
            if key in FIXED:
                assert not variables(value), (name, key, value)
                continue
            outermost = variables(value)[-1]  # nested ones are recorded first
            assert outermost[0] == key and outermost[1] is not None, (name, key, value)
            assert interpolate(value, {key: "from-dotenv"}) == "from-dotenv", (name, key)
            checked += 1
    assert checked >= 15
    assert set(environment(compose["services"]["api-cpu"])) >= FIXED


def test_dotenv_picks_the_model_and_the_old_knobs_still_work(compose: dict[str, Any]) -> None:
    api = compose["services"]["api-gpu"]
    assert environment(api, {})["RAGQA_LLM__MODEL"] == "llama-3.1-8b-instruct"
    assert environment(api, {"VLLM_SERVED_MODEL_NAME": "llama-lora"})["RAGQA_LLM__MODEL"] == "llama-lora"
    resolved = environment(api, DOTENV)
    assert resolved["RAGQA_LLM__MODEL"] == "support"  # the LoRA adapter, not the served base name
    assert resolved["RAGQA_LLM__CONTEXT_WINDOW"] == "4096" and resolved["RAGQA_API__INSECURE"] == "false"
    assert environment(api, {**DOTENV, "RAGQA_API__INSECURE": "true"})["RAGQA_API__INSECURE"] == "true"
    assert environment(compose["services"]["vllm"], DOTENV)["VLLM_SERVED_MODEL_NAME"] == "llama-lora"


def test_every_ragqa_variable_names_a_setting(compose: dict[str, Any]) -> None:
    names = {n for text in strings(compose) for n, _ in variables(text) if n.startswith("RAGQA_")}
    assert "RAGQA_WORKERS__BROKER_URL" in names and not [n for n in names if not setting_exists(n)]


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("${A:-${B:-x}}", {"B": "y"}, "y"),
    ("${A:-${B:-x}}", {}, "x"),
    ("${A:-d}|${A-d}", {"A": ""}, "d|"),
    ("${A:+on}|${B+on}", {"A": "1", "B": ""}, "on|on"),
    ("$$HOME $A ${A}", {"A": "v"}, "$HOME v v"),
    ("--broker=${U:-redis://b:6379/0}", {}, "--broker=redis://b:6379/0"),
])  # fmt: skip
def test_interpolation_follows_the_compose_rules(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected


def test_interpolation_refuses_what_compose_refuses() -> None:
    for text, env in (("${A:?set A}", {"A": ""}), ("${A", {}), ("${1A}", {})):
        with pytest.raises(ValueError):
            interpolate(text, env)
    assert variables("${A:-${B}} $C") == [("B", None), ("A", "${B}"), ("C", None)]
