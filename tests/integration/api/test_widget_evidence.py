"""The widget's evidence display in a real Chromium, fed answers of the wire contract.

Playwright answers every request to ``http://widget.test``: the widget's own files from
``api/widget/``, its config, and a ``/chat`` stream written here, so each case is certain: a
generation the self-check replaced (the ``done`` text differs from the deltas), a quote holding
markup and whitespace the snippet folded, a quote the preview lacks, a generated sentence no
source supports. ``test_widget_browser.py`` runs the widget against the real server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.api.browser import SHADOW, Tab, fold_space, launched_chromium
from tests.support.environment import REPO

ORIGIN = "http://widget.test"
ARTIFACTS = REPO / "artifacts" / "widget"
FILES = {"/widget.js": "widget.js", "/widget.css": "widget.css", "/widget/evidence.js": "evidence.js",
         "/widget/markdown.js": "markdown.js"}
TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
PAGE = f'<!doctype html><body><script src="{ORIGIN}/widget.js" data-collection="docs" async></script></body>'
MARKUP = "<img src=x onerror=alert(1)>"


def citation(number: int, snippet: str, quote: str | None, title: str = "Zorblax manual") -> dict[str, Any]:
    start = 100 * number
    quoted = None if quote is None else {"number": number, "start": start + 20, "end": start + 20 + len(quote),
                                         "text": quote}  # fmt: skip
    return {"number": number, "chunk_id": f"c{number}", "doc_id": f"manual-{number}.md", "title": title,
            "source": f"manual-{number}.md", "start": start, "end": start + 400, "page": None, "snippet": snippet,
            "score": 0.5, "quote": quoted}  # fmt: skip


def claim(text: str, numbers: list[int], supported: bool) -> dict[str, Any]:
    return {"text": text, "citations": numbers, "supported": supported, "support": 0.9 if supported else 0.2,
            "quote": None}  # fmt: skip


def done(text: str, citations: list[dict[str, Any]], claims: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """An ``AnswerResponse`` as the final stream event carries it."""
    supported = [c["supported"] for c in claims]
    return {"answer_id": "a" * 32, "text": text, "citations": citations, "refused": False, "degraded": None,
            "mode": "extractive", "claims": claims, "grounded": sum(supported) / len(supported) if claims else None,
            "cached": False, "prompt_version": "-", "model": "extractive", "collection": "docs", "question": "q",
            "timings_ms": {"total": 1.0}, "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "guardrail_events": [], **fields}  # fmt: skip


class FakeApi:
    """Answers the widget's requests to ``ORIGIN``: its files, its config, and ``/chat`` with ``frames``."""

    def __init__(self, page: Any) -> None:
        self.frames: list[tuple[str, dict[str, Any]]] = []
        page.route(f"{ORIGIN}/**", self.handle)

    def handle(self, route: Any) -> None:
        path = urlsplit(route.request.url).path
        if path == "/chat":
            body = "".join(f"event: {event}\r\ndata: {json.dumps(data)}\r\n\r\n" for event, data in self.frames)
            route.fulfill(status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"},
                          body=body)  # fmt: skip
        elif path == "/widget/config":
            route.fulfill(json={"collection": "docs", "max_question_chars": 2000})
        elif path == "/page.html":
            route.fulfill(content_type="text/html; charset=utf-8", body=PAGE)
        elif path in FILES:
            name = FILES[path]
            body = (REPO / "api" / "widget" / name).read_text()
            route.fulfill(content_type=TYPES[name.rsplit(".", 1)[-1]], body=body)
        else:
            route.fulfill(status=404, body="")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = Tab(browser)
    opened.context.set_default_timeout(15_000)  # nothing here waits for a model
    yield opened
    assert not opened.errors, opened.errors  # no uncaught exception in any page
    opened.close()


@pytest.fixture
def fake_api(tab: Tab) -> FakeApi:
    return FakeApi(tab.page)


def answer_of(tab: Tab, fake_api: FakeApi, *frames: tuple[str, dict[str, Any]]) -> Any:
    fake_api.frames = list(frames)
    tab.open_widget(f"{ORIGIN}/page.html")
    tab.evidence_ready()
    tab.ask("How is the zorblax gadget calibrated?")
    answer = tab.wait_answered()
    assert answer.get_attribute("data-status") == "done", answer.inner_text()
    return answer


def test_the_final_text_replaces_what_streamed_and_says_why(tab: Tab, fake_api: FakeApi) -> None:
    sentence = "The zorblax gadget is calibrated with a brass key."
    final = done(f"{sentence} [1]", [citation(1, f"Intro. {sentence} Outro.", sentence)],
                 [claim(sentence, [1], True)], degraded="degenerate_generation")  # fmt: skip
    answer = answer_of(tab, fake_api, ("delta", {"text": "Loop loop "}), ("delta", {"text": "loop loop."}),
                       ("done", final))  # fmt: skip
    text = answer.locator(".text")
    assert text.text_content() == f"{sentence} 1"  # the [1] marker is the button "1"; no "loop" left
    assert answer.locator(".ref").count() == 1 and answer.locator(".chip").count() == 1
    assert answer.locator(".badge.degraded").is_visible() and answer.locator(".badge.degraded .why").count() == 1
    assert answer.locator(".badge.unsupported").count() == 0
    tab.page.reload()  # the conversation comes back from this tab's session, as the final text
    tab.page.locator("ragqa-widget .panel").wait_for(state="visible")
    tab.evidence_ready()
    assert tab.last_answer().locator(".text").text_content() == f"{sentence} 1"
    tab.last_answer().locator(".ref").click()  # a [n] in the text opens the preview too
    assert tab.last_answer().locator(".snippet mark.ragqa-quote").text_content() == sentence


def test_a_quote_with_markup_is_marked_as_text_in_the_folded_preview(tab: Tab, fake_api: FakeApi) -> None:
    quote = f"The zorblax {MARKUP}\n   is   calibrated\twith a key."  # the document's text, line breaks and all
    snippet = f"…the manual. {fold_space(quote)} Then turn it {MARKUP} three times…"
    final = done(f"{fold_space(quote)} [1]", [citation(1, snippet, quote, title=f"{MARKUP} manual")],
                 [claim(fold_space(quote), [1], True)])  # fmt: skip
    answer = answer_of(tab, fake_api, ("delta", {"text": final["text"]}), ("done", final))
    answer.locator(".chip").first.click()
    detail = answer.locator(".source-detail")
    assert detail.locator("mark.ragqa-quote").count() == 1
    assert detail.locator(".snippet mark.ragqa-quote").text_content() == fold_space(quote)
    assert detail.locator(".snippet").text_content() == snippet
    assert MARKUP in detail.locator(".source-title").text_content()
    assert detail.locator(".support").count() == 0  # an extractive answer: quoted by construction
    tab.page.wait_for_timeout(300)  # time for an onerror handler to fire, were there an <img>
    assert tab.page.evaluate(f"() => {SHADOW}.querySelectorAll('img').length") == 0
    assert tab.dialogs == []


def test_a_quote_the_preview_lacks_is_shown_below_it(tab: Tab, fake_api: FakeApi) -> None:
    sentence = "Calibrating the zorblax gadget takes four minutes."
    snippet = "The zorblax gadget is calibrated with a brass key turned three times clockwise."
    final = done(f"{sentence} [1]", [citation(1, snippet, sentence)], [claim(sentence, [1], True)])
    answer = answer_of(tab, fake_api, ("delta", {"text": final["text"]}), ("done", final))
    answer.locator(".chip").first.click()
    detail = answer.locator(".source-detail")
    assert detail.locator(".snippet").text_content() == snippet
    assert detail.locator(".snippet mark").count() == 0
    assert detail.locator(".quote mark.ragqa-quote").text_content() == sentence


def test_unsupported_sentences_of_a_generated_answer_are_marked(tab: Tab, fake_api: FakeApi) -> None:
    backed, unbacked = "The gadget takes a brass key", "It also flies at night"
    final = done(
        f"{backed} [1]. {unbacked} [2].",
        [citation(1, f"{backed}, turned three times.", f"{backed}, turned three times."),
         citation(2, "Calibration takes four minutes.", "Calibration takes four minutes.")],
        [claim(f"{backed}.", [1], True), claim(f"{unbacked}.", [2], False)],
        mode="generative", model="smollm2-135m-instruct", prompt_version="rag-v1",
    )  # fmt: skip
    answer = answer_of(tab, fake_api, ("delta", {"text": final["text"]}), ("done", final))
    marked = answer.locator(".claim-unsupported")
    assert fold_space(" ".join(marked.all_text_contents())).startswith(unbacked)
    assert backed not in " ".join(marked.all_text_contents())
    assert answer.locator(".badge.unsupported").is_visible()
    detail = answer.locator(".source-detail")
    answer.locator(".chip").nth(0).click()
    assert detail.locator(".support.supported").is_visible() and detail.locator(".support.unsupported").count() == 0
    answer.locator(".chip").nth(1).click()
    assert detail.locator(".support.unsupported").is_visible()
    assert detail.locator(".snippet mark.ragqa-quote").text_content() == "Calibration takes four minutes."


def test_each_marker_opens_its_source_on_the_sentence_it_quotes(tab: Tab, fake_api: FakeApi) -> None:
    first, second = "The gadget takes a brass key.", "Calibration takes four minutes."
    quotes = [{"number": 1, "start": 120, "end": 120 + len(first), "text": first},
              {"number": 1, "start": 300, "end": 300 + len(second), "text": second}]  # fmt: skip
    source = citation(1, f"{first} Turn it three times.", first)  # the preview holds the first sentence only
    claims = [{**claim(first, [1], True), "quote": quotes[0]}, {**claim(second, [1], True), "quote": quotes[1]}]
    final = done(f"{first} [1] {second} [1]", [source], claims)
    answer = answer_of(tab, fake_api, ("delta", {"text": final["text"]}), ("done", final))
    detail = answer.locator(".source-detail")
    refs = answer.locator(".ref")
    refs.nth(1).click()  # the second sentence's [1]: its own quote, below the preview that lacks it
    assert detail.locator(".snippet mark").count() == 0
    assert detail.locator(".quote mark.ragqa-quote").text_content() == second
    assert "300–" in detail.locator(".source-meta").text_content()
    refs.nth(0).click()
    assert detail.locator(".snippet mark.ragqa-quote").text_content() == first
    assert detail.locator(".quote").count() == 0
    answer.locator(".chip").first.click()  # the chip: the citation's own quote
    answer.locator(".chip").first.click()
    assert detail.locator(".snippet mark.ragqa-quote").text_content() == first


def test_an_answer_never_loads_a_remote_image(tab: Tab, fake_api: FakeApi) -> None:
    # The server strips such an image (tests/integration/api/test_output_links.py); the widget
    # must not load one even if an answer carried it: markdown draws its alt text, HTML stays text.
    image = "![status](http://tracker.example/pixel.png?d=brass-key)"
    sentence = "The zorblax gadget is calibrated with a brass key."
    requested: list[str] = []
    tab.page.on("request", lambda request: requested.append(request.url))
    final = done(f"{sentence} {image} <img src=http://tracker.example/raw.png>", [], [], mode="generative")
    answer = answer_of(tab, fake_api, ("delta", {"text": f"{sentence} "}), ("delta", {"text": image}),
                       ("done", final))  # fmt: skip
    shown = answer.locator(".text").text_content() or ""
    assert "status" in shown and "](" not in shown and "<img src=http://tracker.example/raw.png>" in shown
    tab.page.wait_for_timeout(300)  # time for an image request to go out, were there one
    assert not [url for url in requested if "tracker.example" in url], requested
    assert tab.page.evaluate(f"() => {SHADOW}.querySelectorAll('img').length + document.images.length") == 0


def test_a_low_confidence_answer_is_shown_as_such_with_its_quotes(tab: Tab, fake_api: FakeApi) -> None:
    sentence = "The zorblax gadget is calibrated with a brass key."
    hedge = f'The documents may not answer this directly. The closest passage: "{sentence}" [1]'
    final = done(hedge, [citation(1, f"Intro. {sentence} Outro.", sentence)], [claim(sentence, [1], True)],
                 confidence="low")  # fmt: skip
    answer = answer_of(tab, fake_api, ("delta", {"text": hedge}), ("done", final))
    assert answer.get_attribute("data-confidence") == "low"
    badge = answer.locator(".badge.low-confidence")
    assert badge.is_visible() and "may not answer" in (badge.text_content() or "").lower()
    assert answer.locator(".chip").count() == 1 and answer.locator(".badge.refused").count() == 0
    confident = done(f"{sentence} [1]", [citation(1, sentence, sentence)], [claim(sentence, [1], True)],
                     confidence="high")  # fmt: skip
    fake_api.frames = [("delta", {"text": f"{sentence} [1]"}), ("done", confident)]
    tab.ask("And the key?")
    again = tab.wait_answered()
    assert again.get_attribute("data-confidence") == "high" and again.locator(".badge.low-confidence").count() == 0


MARKDOWN = ("3. **Chunk.** Documents are split by `SentenceSplitter` into *small* chunks. [1] - `RAGQA_BATCH` (64): "
            "texts per call, see [the guide](http://docs.example/guide) ![pixel](http://evil.example/p.png) [1]")


def luminance(rgb: str) -> float:
    channels = [int(x) / 255 for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_markdown_is_drawn_as_elements_never_as_html_in_both_schemes(tab: Tab, fake_api: FakeApi,
                                                                    scheme: str) -> None:
    tab.page.emulate_media(color_scheme=scheme)
    sentence = "3. **Chunk.** Documents are split by `SentenceSplitter` into *small* chunks."
    final = done(MARKDOWN, [citation(1, f"Intro. {sentence} Outro.", sentence)],
                 [claim(sentence, [1], True)], confidence="low")  # fmt: skip
    answer = answer_of(tab, fake_api, ("delta", {"text": MARKDOWN}), ("done", final))
    text = answer.locator(".text")
    shown = text.text_content() or ""
    for raw in ("**", "`", "](", "![", "\n- "):
        assert raw not in shown, (raw, shown)
    assert text.locator("strong").first.text_content() == "Chunk."
    assert text.locator("code").count() == 2 and text.locator("em").first.text_content() == "small"
    assert "the guide" in shown and answer.locator("img").count() == 0 and answer.locator(".text a").count() == 0
    answer.locator(".chip").first.click()
    preview = answer.locator(".source-detail")
    assert "**" not in (preview.text_content() or "") and preview.locator("strong").count() >= 1
    colors = tab.page.evaluate(f"""() => {{
      const m = [...{SHADOW}.querySelectorAll('.msg.bot')].pop();
      const bubble = getComputedStyle(m.querySelector('.bubble'));
      const badge = getComputedStyle(m.querySelector('.badge.low-confidence'));
      return [bubble.color, bubble.backgroundColor, badge.color, badge.backgroundColor];
    }}""")
    assert contrast(colors[0], colors[1]) >= 4.5 and contrast(colors[2], colors[3]) >= 4.5, colors
    if scheme == "dark":
        assert luminance(colors[1]) < 0.05  # a dark bubble, not the light one
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(ARTIFACTS / f"widget-markdown-{scheme}.png"))
