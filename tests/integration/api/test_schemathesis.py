"""Schemathesis against the app's own OpenAPI schema, in-process (ASGI): no input gives a 5xx.

Bounded so it stays under a minute: a few examples per operation. Most generated questions
are far from every passage and are refused before the LLM, so the real model is rarely called.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from bootstrap.components import Components
from tests.support.api import make_settings, sharing
from tests.support.services import LLMServer

EXAMPLES_PER_OPERATION = 20


def test_no_input_causes_a_server_error(components: Components, redis_url: str, key_prefix: str,
                                        llm_server: LLMServer, tmp_path: Path) -> None:
    # Condensing follow-ups would call the LLM for most generated conversations: off, to stay bounded.
    config = make_settings(tmp_path, redis_url, key_prefix + "fuzz:", llm_server.base_url,
                           llm={"max_tokens": 4, "max_history_turns": 0})  # fmt: skip
    app = create_app(config, sharing(components, config))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: schemathesis.Case) -> None:
            response = case.call(timeout=60)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")
            assert "Traceback" not in response.text

        check()
    assert operations >= 12
    assert not failures, "\n".join(failures)
