"""`ragqa ask`'s human output: source lines with the quoted sentence, and document text kept out of Rich markup."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType

from cli.ask_cmd import describe, made_by, source_line
from core.types import Answer, Citation, Quote


def rendered(line: RenderableType) -> str:
    console = Console(width=400, no_color=True, file=io.StringIO())
    console.print(line, soft_wrap=True)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue().rstrip("\n")


def cite(doc_id: str, title: str, quote: Quote | None, snippet: str = "the passage") -> Citation:
    return Citation(number=1, chunk_id="c1", doc_id=doc_id, title=title, source=doc_id, start=100, end=500,
                    page=None, snippet=snippet, score=0.5, quote=quote)  # fmt: skip


def test_a_source_line_shows_the_quoted_sentence_and_its_span() -> None:
    quote = Quote(1, 120, 160, "Documents are split\n into  chunks.")
    line = rendered(source_line(cite("guide.md", "Guide", quote)))
    assert line == '[1] Guide (guide.md, chars 120-160): "Documents are split into chunks."'


def test_without_a_quote_the_passage_span_and_snippet_show() -> None:
    assert rendered(source_line(cite("a.txt", "A", None))) == "[1] A (a.txt, chars 100-500): the passage"


@pytest.mark.parametrize("hostile", ["[/b].txt", "[bold red]x[/]", "a\\", "[link=http://x]y[/link]", "\\[b]"])
def test_document_text_prints_as_itself_never_as_markup(hostile: str) -> None:
    quote = Quote(1, 100, 110, f"It says {hostile} here.")
    line = rendered(source_line(cite(hostile, hostile, quote, snippet=hostile)))
    assert line == f'[1] {hostile} ({hostile}, chars 100-110): "It says {hostile} here."'


def test_describe_says_how_the_answer_was_made() -> None:
    assert describe(Answer("x", mode="extractive", grounded=1.0)) == "extractive · grounded 100%"
    replaced = Answer("x", mode="extractive", grounded=1.0, degraded="ungrounded_generation")
    assert describe(replaced) == "extractive · grounded 100% · degraded: ungrounded_generation"
    assert describe(Answer("x", mode="refusal", refused=True)) == "refusal"
    assert describe(Answer("x", mode="generative", grounded=0.5)) == "generative · grounded 50%"


def test_the_footer_names_only_what_ran() -> None:
    assert made_by(Answer(text="I don't know", refused=True, mode="refusal", model="none")) == "no model called"
    assert made_by(Answer(text="x [1]", mode="extractive", model="extractive:evidence-v1", prompt_version="-")) == (
        "extractive:evidence-v1")
    assert made_by(Answer(text="x", model="llama", prompt_version="rag-v1")) == "llama · prompt rag-v1"


def test_a_low_confidence_answer_says_so() -> None:
    hedged = Answer(text="The documents may not answer this directly.", mode="extractive", confidence="low")
    assert "low confidence" in describe(hedged)
