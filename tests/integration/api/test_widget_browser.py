"""The chat widget in a real Chromium (Debian's, driven by Playwright) against a real uvicorn server.

- The API (API keys on, so only the widget token lets the widget in) serves the demo page over
  the sample documents the README ingests (``docs/``) in collection ``docs``, and a document
  carrying markup in collection ``xss``. SmolLM2-135M writes its answers (answer mode ``auto``:
  an LLM server is configured).
- A second API over the same store has its LLM down: it answers from the documents' own
  sentences (extractive, ``degraded: llm_unavailable``), every one cited with its quote, so
  citation chips and quotes are certain there (SmolLM2 rarely writes a ``[1]`` itself).
- A third server, on another origin, serves host pages: one whose origin the site token allows
  (with hostile CSS, to show the shadow DOM keeps it out), one using a token not allowed there.

These tests assert structure (text streamed, then chips; refusal flag; error code; the quoted
sentence marked in the preview and found in the document at its offsets), never wording. A 360 px
screenshot lands in ``artifacts/widget/`` (git-ignored). ``test_widget_evidence.py`` feeds the
widget answers of the wire contract (a replaced generation, quotes with markup, unsupported
sentences) without a server.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.security import hash_key
from bootstrap.components import Components
from core.settings import Settings
from ingest.parsing import parse_bytes
from ingest.sources import iter_sources
from tests.integration.api.browser import (
    SHADOW,
    TIMEOUT_MS,
    AppServer,
    HostPages,
    Tab,
    drawn,
    fold_space,
    launched_chromium,
)
from tests.support.api import make_settings, sharing
from tests.support.environment import REPO
from tests.support.services import LLMServer, free_port

SITE_TOKEN = "pk_site_browser_0123456789"
PARTNER_TOKEN = "pk_partner_browser_0123456789"  # allowed only on https://partner.example
MARKUP = "<img src=x onerror=alert(1)>"
ANSWERABLE = "How are documents chunked?"
OFF_TOPIC = "Who won the 1998 football World Cup?"
ARTIFACTS = REPO / "artifacts" / "widget"

pytestmark = pytest.mark.slow


def host_page(api: str, token: str, collection: str) -> str:
    hostile = "div, p, button { display: none !important; } body { font-size: 40px; color: red; }"
    return (f"<!doctype html><html><head><style>{hostile}</style></head><body><h1>A customer's page</h1>"
            f'<script src="{api}/widget.js" data-collection="{collection}" data-token="{token}" async></script>'
            "</body></html>")  # fmt: skip


@pytest.fixture(scope="module")
def api_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def host_port() -> int:
    return free_port()


def browser_settings(tmp: Path, redis_url: str, prefix: str, llm_url: str, host_port: int) -> Settings:
    return make_settings(
        tmp, redis_url, prefix, llm_url,
        api={"api_keys_sha256": [hash_key("an-admin-key-the-browser-never-sees")]},
        # No condensing of follow-ups (an extra LLM call, tested in the API suite): here only what
        # the widget sends matters, and the follow-up stays a quick refusal.
        llm={"max_history_turns": 0},
        widget={"tokens": [
            {"token": SITE_TOKEN, "origins": [f"http://127.0.0.1:{host_port}"], "collections": ["docs", "xss"]},
            {"token": PARTNER_TOKEN, "origins": ["https://partner.example"], "collections": ["docs", "xss"]},
        ], "visitor_rate_limit_burst": 100},  # every test is the same visitor (127.0.0.1)
    )  # fmt: skip


@pytest.fixture(scope="module")
def widget_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str, llm_server: LLMServer,
                    host_port: int) -> Settings:
    return browser_settings(tmp_path_factory.mktemp("widget-browser"), redis_url, key_prefix + "widget-browser:",
                            llm_server.base_url, host_port)  # fmt: skip


@pytest.fixture(scope="module")
def widget_parts(widget_settings: Settings, embedder: Any, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Components]:
    """Its own store: the sample docs in ``docs``, and a document full of markup in ``xss``."""
    parts = Components(widget_settings)
    parts.__dict__["embedder"] = embedder
    report = parts.pipeline.ingest(list(iter_sources([REPO / "docs"])), "docs")
    assert report.counts()["added"] >= 2, report.to_dict()
    folder = tmp_path_factory.mktemp("markup")
    (folder / "zorblax.md").write_text(
        f"# {MARKUP} Zorblax field manual\n\nThe zorblax gadget is calibrated with a brass key {MARKUP} "
        "turned three times clockwise. Calibrating the zorblax gadget takes four minutes.\n"
    )
    assert parts.pipeline.ingest(list(iter_sources([folder])), "xss").counts()["added"] == 1
    yield parts
    parts.close()


@pytest.fixture(scope="module")
def api_server(widget_settings: Settings, widget_parts: Components, api_port: int) -> Iterator[AppServer]:
    with AppServer(create_app(widget_settings, widget_parts), api_port) as server:
        yield server


@pytest.fixture(scope="module")
def fallback_server(widget_parts: Components, redis_url: str, key_prefix: str, host_port: int,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The same store, its LLM down (nothing listens there): extractive answers, every source cited and quoted."""
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"
    settings = browser_settings(tmp_path_factory.mktemp("widget-fallback"), redis_url,
                                key_prefix + "widget-fallback:", dead_llm, host_port)  # fmt: skip
    with AppServer(create_app(settings, sharing(widget_parts, settings)), free_port()) as server:
        yield server


@pytest.fixture(scope="module")
def host(fallback_server: AppServer, host_port: int) -> Iterator[HostPages]:
    pages = {"/allowed.html": host_page(fallback_server.url, SITE_TOKEN, "xss"),
             "/denied.html": host_page(fallback_server.url, PARTNER_TOKEN, "docs")}  # fmt: skip
    with HostPages(pages, host_port) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = Tab(browser)
    yield opened
    assert not opened.errors, opened.errors  # no uncaught exception in any page
    opened.close()


# Records every state the last answer passes through, to tell streamed text from text that arrived at once.
RECORD_STATES = """() => {
  const root = document.querySelector('ragqa-widget').shadowRoot;
  window.__states = [];
  new MutationObserver(() => {
    const m = [...root.querySelectorAll('.msg.bot')].pop();
    if (m) window.__states.push({status: m.dataset.status, text: m.querySelector('.text')?.textContent ?? '',
                                 chips: m.querySelectorAll('.chip').length});
  }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def test_the_demo_page_streams_an_answer(tab: Tab, api_server: AppServer) -> None:
    tab.open_widget(api_server.url + "/")
    assert tab.active_class() == "question"  # the panel opens with the focus in the question box
    tab.page.evaluate(RECORD_STATES)
    tab.ask(ANSWERABLE)
    answer = tab.wait_answered()
    assert answer.get_attribute("data-status") == "done", answer.inner_text()
    assert answer.get_attribute("data-refused") == "false", "the sample docs answer this; it was refused"
    states = tab.page.evaluate("() => window.__states")
    growing = [s["text"] for s in states if s["status"] == "streaming" and s["text"].strip()]
    assert len(set(growing)) >= 2, f"the text did not arrive piece by piece: {growing}"
    assert all(s["chips"] == 0 for s in states if s["status"] == "streaming")  # sources come with the last event
    assert answer.locator(".text").inner_text().strip()
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    helpful.click()  # POST /feedback, with the widget token
    tab.page.wait_for_function("() => document.querySelector('ragqa-widget').shadowRoot"
                               ".querySelector('[aria-label=Helpful]')?.getAttribute('aria-pressed') === 'true'")
    # SmolLM2 seldom writes a [n] marker; each one it writes is a chip (the fallback test makes sure of chips).
    assert answer.locator(".chip").count() == answer.locator(".ref").count() or answer.locator(".ref").count() == 0


def test_sources_arrive_after_the_text_as_chips_that_open(tab: Tab, fallback_server: AppServer) -> None:
    tab.open_widget(fallback_server.url + "/")
    tab.page.evaluate(RECORD_STATES)
    tab.ask(ANSWERABLE)
    answer = tab.wait_answered()
    assert answer.get_attribute("data-status") == "done", answer.inner_text()
    states = tab.page.evaluate("() => window.__states")
    assert any(s["text"].strip() and s["chips"] == 0 for s in states if s["status"] == "streaming")
    assert answer.locator(".badge.degraded").is_visible()  # the LLM is down: answered from the evidence
    chips = answer.locator(".chip")
    assert chips.count() >= 1
    detail = answer.locator(".source-detail")
    assert not detail.is_visible()
    opened = citation_opens(fallback_server)
    chips.first.click()
    assert chips.first.get_attribute("aria-expanded") == "true" and detail.is_visible()
    assert detail.locator(".source-title").inner_text().strip() and detail.locator(".snippet").inner_text().strip()
    chips.first.click()  # the same chip closes it
    assert not detail.is_visible() and chips.first.get_attribute("aria-expanded") == "false"
    chips.first.click()  # and opens it again: the widget reports the first open of an answer only
    deadline = time.monotonic() + 10
    while citation_opens(fallback_server) == opened and time.monotonic() < deadline:
        time.sleep(0.1)  # POST /events, sent in the background with the widget token
    time.sleep(0.3)
    assert citation_opens(fallback_server) == opened + 1


def citation_opens(server: AppServer) -> float:
    """``ragqa_answer_events_total{kind="citation_open"}`` of the server (0 before the first)."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:
        found = re.search(r'^ragqa_answer_events_total\{kind="citation_open"\} (\S+)$', response.read().decode(), re.M)
    return float(found.group(1)) if found else 0.0


def sse_frames(body: str) -> list[tuple[str, Any]]:
    """The (event, data) frames of a server-sent event stream (sse-starlette ends lines with CRLF)."""
    frames = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").removeprefix(" "))
        if data:
            frames.append((event, json.loads("\n".join(data))))
    return frames


def test_a_citation_preview_marks_the_quoted_sentence(tab: Tab, fallback_server: AppServer) -> None:
    streams: list[str] = []

    def keep_a_copy(route: Any) -> None:  # the answer goes on to the widget whole (not piece by piece)
        response = route.fetch(timeout=TIMEOUT_MS)
        streams.append(response.text())
        route.fulfill(response=response)

    tab.page.route("**/chat", keep_a_copy)
    tab.open_widget(fallback_server.url + "/")
    tab.ask(ANSWERABLE)
    answer = tab.wait_answered()
    assert answer.get_attribute("data-status") == "done", answer.inner_text()
    done = next(data for event, data in sse_frames(streams[0]) if event == "done")
    assert done["mode"] == "extractive" and done["degraded"] == "llm_unavailable", done  # the LLM is down
    quoted = [c for c in done["citations"] if c.get("quote")]
    assert quoted and len(quoted) == len(done["citations"]), f"every citation quotes its sentence: {done['citations']}"
    tab.evidence_ready()
    detail = answer.locator(".source-detail")
    for citation in quoted:
        quote = citation["quote"]
        document = parse_bytes((REPO / "docs" / citation["doc_id"]).read_bytes(), citation["doc_id"]).text
        assert document[quote["start"]:quote["end"]] == quote["text"]  # offsets into the document's text
        assert citation["start"] <= quote["start"] < quote["end"] <= citation["end"]  # inside the cited passage
        number = citation["number"]
        answer.locator(f'.chip[aria-label^="Source {number}:"]').click()
        assert detail.is_visible()
        marks = detail.locator("mark.ragqa-quote")
        assert marks.count() == 1 and detail.locator(".snippet mark.ragqa-quote").count() == 1  # in the preview
        assert marks.first.text_content() == drawn(quote["text"])  # markdown drawn as elements
        assert detail.locator(".snippet").text_content() == drawn(citation["snippet"])
    assert answer.locator(".badge.degraded").is_visible()
    shown = tab.page.evaluate(f"() => [...{SHADOW}.querySelectorAll('.msg.bot')].pop().querySelector('.text')"
                              ".textContent")  # fmt: skip
    assert fold_space(shown) == drawn(re.sub(r"\[(\d+)\]", r"\1", done["text"]))  # [n] shows as a button "n"


def test_a_refused_question_shows_the_refusal(tab: Tab, api_server: AppServer) -> None:
    tab.page.goto(api_server.url + "/")
    tab.page.get_by_role("button", name=OFF_TOPIC).click()  # a sample question: the demo uses RagqaWidget.ask
    answer = tab.wait_answered()
    assert answer.get_attribute("data-status") == "done"
    assert answer.get_attribute("data-refused") == "true"
    assert answer.locator(".badge.refused").is_visible()
    assert answer.locator(".chip").count() == 0


def test_the_conversation_lasts_the_page_session_and_follow_ups_send_it(tab: Tab, api_server: AppServer) -> None:
    tab.open_widget(api_server.url + "/")
    tab.ask(OFF_TOPIC)
    tab.wait_answered()
    tab.page.reload()
    tab.page.locator("ragqa-widget .panel").wait_for(state="visible")  # it was open: it opens again
    assert tab.page.locator("ragqa-widget .msg").count() == 2
    with tab.page.expect_request(lambda r: r.url.endswith("/chat")) as sent:
        tab.ask("And who won in 2002?")
    messages = sent.value.post_data_json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert sent.value.headers["x-widget-token"] == SITE_TOKEN
    tab.wait_answered()
    tab.page.locator("ragqa-widget .reset").click()
    assert tab.page.locator("ragqa-widget .msg").count() == 0


def test_the_keyboard_stays_in_the_panel_and_esc_gives_focus_back(tab: Tab, api_server: AppServer) -> None:
    tab.open_widget(api_server.url + "/")
    panel_classes = {"question", "reset", "close", "log", "send"}  # focus outside the widget reads ''
    for _ in range(8):
        tab.page.keyboard.press("Tab")
        assert tab.active_class() in panel_classes
    for _ in range(3):
        tab.page.keyboard.press("Shift+Tab")
        assert tab.active_class() in panel_classes
    dialog = tab.page.locator("ragqa-widget [role=dialog]")
    assert dialog.get_attribute("aria-modal") == "true" and dialog.get_attribute("aria-labelledby") == "ragqa-title"
    tab.page.keyboard.press("Escape")
    assert not tab.page.locator("ragqa-widget .panel").is_visible()
    assert tab.active_class() == "launcher"
    assert tab.page.locator("ragqa-widget .launcher").get_attribute("aria-expanded") == "false"


def test_the_stop_button_ends_an_answer(tab: Tab, api_server: AppServer) -> None:
    tab.open_widget(api_server.url + "/")
    tab.ask("How are documents chunked, and in how many tokens?")  # not cached: the model has work to do
    stop = tab.page.locator("ragqa-widget .stop")
    stop.click()
    answer = tab.wait_answered()
    assert answer.get_attribute("data-status") == "stopped"
    assert answer.locator(".badge.stopped").is_visible()
    assert tab.page.locator("ragqa-widget .send").is_visible() and not stop.is_visible()


def test_markup_in_a_document_is_shown_as_text_never_run(tab: Tab, host: HostPages) -> None:
    tab.open_widget(host.url + "/allowed.html")  # another origin, hostile CSS: the widget still works
    tab.ask("What is the zorblax gadget calibrated with?")
    answer = tab.wait_answered()
    assert answer.get_attribute("data-status") == "done", answer.inner_text()
    answer.locator(".chip").first.click()
    detail = answer.locator(".source-detail")
    assert MARKUP in detail.locator(".source-title").inner_text()
    assert MARKUP in detail.locator(".snippet").inner_text()
    tab.page.wait_for_timeout(500)  # time for an onerror handler to fire, were there an <img>
    assert tab.page.evaluate("() => document.querySelector('ragqa-widget').shadowRoot.querySelectorAll('img')"
                             ".length + document.querySelectorAll('img').length") == 0  # fmt: skip
    assert tab.dialogs == []


def test_a_page_on_a_disallowed_origin_says_so(tab: Tab, host: HostPages) -> None:
    tab.open_widget(host.url + "/denied.html")
    banner = tab.page.locator("ragqa-widget .banner")
    banner.wait_for(state="visible")
    assert "origin_not_allowed" in banner.inner_text() and host.url in banner.inner_text()
    assert tab.page.locator("ragqa-widget textarea").is_disabled()


def test_at_360_px_the_panel_fits_and_a_screenshot_is_kept(browser: Any, fallback_server: AppServer) -> None:
    tab = Tab(browser, width=360, height=740)
    try:
        tab.open_widget(fallback_server.url + "/")
        tab.ask(ANSWERABLE)
        answer = tab.wait_answered()
        answer.locator(".chip").first.click()
        box = tab.page.locator("ragqa-widget .panel").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        overflow = tab.page.evaluate("() => { const log = document.querySelector('ragqa-widget').shadowRoot"
                                     ".querySelector('.log'); return log.scrollWidth - log.clientWidth; }")  # fmt: skip
        assert overflow <= 0, "the conversation scrolls sideways at 360 px"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "widget-360.png"
        tab.page.screenshot(path=str(shot))
        assert shot.stat().st_size > 1000
        print(f"360 px screenshot: {shot}")
        assert not tab.errors, tab.errors
    finally:
        tab.close()
