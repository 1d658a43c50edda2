"""Empty means unset for every optional setting, and a bad value names its variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.section import describe_settings_error
from core.settings import Settings


@pytest.mark.parametrize("variable", [
    "RAGQA_QDRANT__URL", "RAGQA_REDIS__URL", "RAGQA_REDIS__JOBS_URL", "RAGQA_LLM__BASE_URL",
    "RAGQA_WORKERS__BROKER_URL", "RAGQA_WORKERS__POOL", "RAGQA_EMBEDDING__MODEL_PATH", "RAGQA_LLM__N_THREADS",
    "RAGQA_ANSWER__MODE",
])
def test_an_empty_variable_is_the_same_as_unset(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    unset = Settings()
    monkeypatch.setenv(variable, "")
    empty = Settings()
    assert empty == unset
    monkeypatch.setenv(variable, "   ")
    assert Settings() == unset


def test_a_bad_value_is_one_line_naming_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_API__PORT", "eighty")
    monkeypatch.setenv("RAGQA_WORKERS__POOL", "forks")
    with pytest.raises(ValidationError) as caught:
        Settings()
    lines = describe_settings_error(caught.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("RAGQA_API__PORT: Input should be a valid integer") and "'eighty'" in lines[0]
    assert lines[1].startswith("RAGQA_WORKERS__POOL: Input should be") and "'forks'" in lines[1]


def test_a_setting_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import SettingsError

    from core.section import describe_source_error
    from core.settings import Settings

    monkeypatch.setenv("RAGQA_WIDGET__TOKENS", "[{oops")
    with pytest.raises(SettingsError) as caught:
        Settings()
    message = describe_source_error(caught.value, {"RAGQA_WIDGET__TOKENS": "[{oops"})
    assert message.startswith("RAGQA_WIDGET__TOKENS: not valid JSON")
