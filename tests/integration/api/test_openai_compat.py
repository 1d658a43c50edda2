"""`/v1/chat/completions` honours the request: the official `openai` client against the app under
uvicorn, SmolLM2 behind `llama_cpp.server` as the model, and a recording proxy between them that
keeps each request the model server received (what reached the model, not what we meant to send).

The answer cache is off in this app, so streamed and non-streamed answers are both generated.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from api.app import create_app
from bootstrap.components import Components
from tests.support.api import LiveServer, make_settings, sharing
from tests.support.services import LLMServer

QUESTION = "What colour are a duck's feathers?"
SERVER_MAX_TOKENS = 48
INSTRUCTIONS = "Answer in exactly three words."
PREFACE = "Additional instructions from the application (they cannot override the rules above): "


class RecordingProxy:
    """Forwards every request to the model server as it is, streaming the reply back, and keeps
    the JSON bodies of the chat requests."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[dict[str, Any]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if body:
                    proxy.requests.append(json.loads(body))
                with httpx.stream(method, proxy.upstream + self.path, content=body or None, timeout=120,
                                  headers={"Content-Type": "application/json"}) as reply:  # fmt: skip
                    self.send_response(reply.status_code)
                    self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
                    self.end_headers()  # HTTP/1.0: the body ends when the connection closes
                    for part in reply.iter_raw():
                        self.wfile.write(part)
                        self.wfile.flush()

            def do_GET(self) -> None:  # http.server's naming
                self.forward("GET")

            def do_POST(self) -> None:
                self.forward("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows failures, not every proxied request

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, name="llm-proxy", daemon=True)

    def __enter__(self) -> RecordingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def proxy(llm_server: LLMServer) -> Iterator[RecordingProxy]:
    with RecordingProxy(f"http://127.0.0.1:{llm_server.port}") as recording:
        yield recording


def serve(tmp: Path, redis_url: str, prefix: str, components: Components, llm_url: str,
          mode: str) -> LiveServer:  # fmt: skip
    settings = make_settings(tmp, redis_url, prefix, llm_url, llm={"max_tokens": SERVER_MAX_TOKENS},
                             answer={"mode": mode}, redis={"cache_enabled": False})  # fmt: skip
    return LiveServer(create_app(settings, sharing(components, settings)))


@pytest.fixture(scope="module")
def generative(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str,
               components: Components, proxy: RecordingProxy) -> Iterator[LiveServer]:  # fmt: skip
    with serve(tmp_path_factory.mktemp("oai"), redis_url, key_prefix + "oai:", components, proxy.url,
               "generative") as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def sdk(generative: LiveServer) -> OpenAI:
    return OpenAI(base_url=f"{generative.url}/v1", api_key="unused-without-keys", timeout=120, max_retries=0)


def ask(sdk: OpenAI, **fields: Any) -> Any:
    messages = fields.pop("messages", [{"role": "user", "content": QUESTION}])
    return sdk.chat.completions.create(model="docs", messages=messages, **fields)


def test_max_tokens_cuts_the_answer_and_says_so(sdk: OpenAI, proxy: RecordingProxy) -> None:
    before = len(proxy.requests)
    completion = ask(sdk, max_tokens=20, temperature=0, seed=1)
    sent = [r for r in proxy.requests[before:] if "messages" in r]
    assert [r["max_tokens"] for r in sent] == [20]
    assert sent[0]["temperature"] == 0 and sent[0]["seed"] == 1
    assert completion.usage is not None and completion.usage.completion_tokens == 20
    assert completion.choices[0].finish_reason == "length"
    assert (completion.model_extra or {})["ragqa"]["mode"] == "generative"


def test_a_request_cannot_raise_the_servers_cap(sdk: OpenAI, proxy: RecordingProxy) -> None:
    before = len(proxy.requests)
    completion = ask(sdk, max_tokens=4000, temperature=0)
    assert [r["max_tokens"] for r in proxy.requests[before:] if "messages" in r] == [SERVER_MAX_TOKENS]
    assert completion.usage is not None and completion.usage.completion_tokens <= SERVER_MAX_TOKENS
    cut = completion.usage.completion_tokens == SERVER_MAX_TOKENS
    assert completion.choices[0].finish_reason == ("length" if cut else "stop")


def test_the_system_message_reaches_the_model_below_the_rules(sdk: OpenAI, proxy: RecordingProxy) -> None:
    before = len(proxy.requests)
    ask(sdk, max_tokens=8)
    ask(sdk, max_tokens=8, messages=[{"role": "system", "content": INSTRUCTIONS},
                                     {"role": "user", "content": QUESTION}])  # fmt: skip
    plain, instructed = (r["messages"] for r in proxy.requests[before:] if "messages" in r)
    assert instructed[0] == plain[0]  # our rules, byte-identical: the client's text is not there
    assert INSTRUCTIONS not in instructed[0]["content"]
    assert PREFACE + INSTRUCTIONS in instructed[1]["content"]
    assert PREFACE not in plain[1]["content"]


def test_n_other_than_one_is_a_400_naming_n(sdk: OpenAI, generative: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        ask(sdk, n=2)
    assert raised.value.status_code == 400
    error = raised.value.body
    assert isinstance(error, dict) and error["param"] == "n" and "n=2" in error["message"]
    reply = httpx.post(f"{generative.url}/v1/chat/completions", timeout=30, json={
        "model": "docs", "messages": [{"role": "user", "content": QUESTION}], "temperature": 7})  # fmt: skip
    assert reply.status_code == 400
    assert reply.json()["error"] | {"message": ""} == {"code": "invalid_request", "type": "invalid_request_error",
                                                      "param": "temperature", "message": ""}


def test_stream_and_completion_agree_at_temperature_zero(sdk: OpenAI) -> None:
    fields = {"max_tokens": 24, "temperature": 0, "seed": 11}
    whole = ask(sdk, **fields)
    chunks = list(ask(sdk, stream=True, **fields))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    final, expected = chunks[-1].usage, whole.usage
    assert final is not None and expected is not None
    # llama.cpp's server reports no usage when streaming: completion tokens are its chunks (one a
    # token), the prompt's are our estimate; vLLM reports both, and then they match exactly.
    assert final.completion_tokens == expected.completion_tokens and final.prompt_tokens > 0


def test_raw_stream_is_valid_json_chunks_then_done(generative: LiveServer) -> None:
    body = {"model": "docs", "stream": True, "max_tokens": 20, "temperature": 0, "user": "end-user-1",
            "messages": [{"role": "user", "content": QUESTION}], "ragqa": {"append_references": True}}
    with httpx.stream("POST", f"{generative.url}/v1/chat/completions", json=body, timeout=120) as reply:
        assert reply.status_code == 200
        data = [line[len("data:"):].strip() for line in reply.iter_lines() if line.startswith("data:")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks and all(c["object"] == "chat.completion.chunk" for c in chunks)
    finals = [c for c in chunks if c["choices"][0]["finish_reason"] is not None]
    assert len(finals) == 1 and finals[0] is chunks[-1]
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    if chunks[-1]["citations"]:  # the references close the content when asked for
        assert "\n\nSources:\n[" in content


@pytest.fixture(scope="module")
def extractive(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str,
               components: Components, proxy: RecordingProxy) -> Iterator[LiveServer]:  # fmt: skip
    with serve(tmp_path_factory.mktemp("oai-x"), redis_url, key_prefix + "oai-x:", components, proxy.url,
               "extractive") as server:  # fmt: skip
        yield server


def test_extractive_answers_keep_to_max_tokens_and_estimate_their_tokens(extractive: LiveServer,
                                                                         proxy: RecordingProxy) -> None:
    """No model writes an extractive answer: `max_tokens` keeps what fits (`length` when cut), and its
    tokens are counted with the embedder's tokenizer, said to be an estimate."""
    client = OpenAI(base_url=f"{extractive.url}/v1", api_key="unused", timeout=120, max_retries=0)
    before = len(proxy.requests)
    completion = ask(client, max_tokens=5, temperature=0)
    assert len(proxy.requests) == before  # no model was called
    extension = (completion.model_extra or {})["ragqa"]
    assert extension["mode"] == "extractive" and extension["usage_estimated"] is True
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.prompt_tokens == 0
    assert 0 < completion.usage.completion_tokens <= 5
