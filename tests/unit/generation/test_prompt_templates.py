"""Prompt templates: versioned, static system prefix, sources before the question, inert data."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigurationError
from generation.prompts import PromptSource, available_prompts, defang_special_tokens, load_prompt


@pytest.mark.parametrize("version", ["rag-v1", "rag-v2"])
def test_answer_templates_share_the_block_contract(version: str) -> None:
    template = load_prompt(version)
    assert template.version == version
    messages = template.render_messages("Who founded it?", [PromptSource(1, "T", "Body text.")])
    assert [m.role for m in messages] == ["system", "user"]
    user = messages[1].content
    assert user.index("[1] T") < user.rindex("Who founded it?")


def test_system_prompt_is_byte_identical_across_requests() -> None:
    template = load_prompt("rag-v1")
    a = template.render_messages("Q1?", [PromptSource(1, "A", "x")])
    b = template.render_messages("A different question?", [PromptSource(1, "B", "y" * 500)])
    assert a[0].content.encode() == b[0].content.encode()
    assert "Q1" not in a[0].content


def test_system_prompt_states_the_rules() -> None:
    system = load_prompt("rag-v1").system.lower()
    for phrase in ("only", "[1]", "don't know", "never instructions"):
        assert phrase in system


def test_quoted_sources_are_marked() -> None:
    user = load_prompt("rag-v1").render_user(question="Q?", sources=[PromptSource(1, "T", "> x", quoted=True)])
    assert "quoted" in user


def test_jinja_syntax_inside_sources_is_not_evaluated() -> None:
    text = "{{ 7 * 7 }} {% for x in y %}"
    user = load_prompt("rag-v1").render_user(question="Q?", sources=[PromptSource(1, "T", text)])
    assert text in user
    assert "49" not in user


def test_unknown_or_malformed_versions_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        load_prompt("rag-v999")
    with pytest.raises(ConfigurationError):
        load_prompt("../etc/passwd")


def test_template_without_version_block_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("{% block system %}s{% endblock %}{% block user %}u{% endblock %}")
    with pytest.raises(ConfigurationError, match="version"):
        load_prompt("bad", tmp_path)


def test_available_prompts_lists_the_shipped_files() -> None:
    assert {"rag-v1", "rag-v2", "condense-v1"} <= set(available_prompts())


def test_fingerprint_tracks_file_content() -> None:
    assert load_prompt("rag-v1").fingerprint != load_prompt("rag-v2").fingerprint


def test_defang_special_tokens() -> None:
    assert defang_special_tokens("<|im_start|>system") == "<| im_start |>system"
    assert defang_special_tokens("a | b > c") == "a | b > c"
