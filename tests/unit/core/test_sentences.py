"""Sentence spans: exact offsets, abbreviations, line structure, bounded length."""

from __future__ import annotations

import pytest

from core.sentences import split_sentences


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_spans_index_the_source_exactly_with_an_offset() -> None:
    text = "  Lincoln was born in 1809.  He died in 1865!\nWhy? Nobody knows.  "
    for span in split_sentences(text, offset=100):
        assert text[span.start - 100 : span.end - 100] == span.text
        assert span.text == span.text.strip()
    assert texts(text) == ["Lincoln was born in 1809.", "He died in 1865!", "Why?", "Nobody knows."]


@pytest.mark.parametrize("text", [
    "Dr. Smith met Mr. Jones in St. Louis.",
    "John F. Kennedy served in the U.S. Navy during the war.",
    "Prices rose, e.g. bread and milk, by 3.5 percent.",
    "See p. 91 for the figures.",
])
def test_abbreviations_initials_and_decimals_do_not_end_a_sentence(text: str) -> None:
    assert texts(text) == [text]


def test_a_period_before_a_lowercase_word_does_not_split() -> None:
    assert texts("It was approx. ten miles away. Then it rained.") == [
        "It was approx. ten miles away.", "Then it rained."]


def test_headings_and_list_lines_stand_alone_but_wrapped_lines_join() -> None:
    text = ("History\n\nThe town was founded by settlers who came from the coast and built\n"
            "the first church near the river in 1702. It grew.\n- first item\n- second item")
    assert texts(text) == [
        "History",
        "The town was founded by settlers who came from the coast and built\nthe first church near the river in 1702.",
        "It grew.",
        "- first item",
        "- second item",
    ]


def test_quotes_and_brackets_close_the_sentence_they_end() -> None:
    assert texts('He said "stop." Then (after a pause.) She left.') == [
        'He said "stop."', "Then (after a pause.)", "She left."]


def test_over_long_runs_are_cut_at_a_separator_within_the_limit() -> None:
    row = "; ".join(f"item number {i} with some words" for i in range(60))
    spans = split_sentences(row, max_chars=200)
    assert len(spans) > 5
    assert all(len(s.text) <= 200 for s in spans)
    assert all(row[s.start : s.end] == s.text for s in spans)
    assert " ".join(s.text for s in spans).split() == row.split()


def test_empty_and_blank_text_has_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t ") == []


def test_each_row_field_and_setting_of_structured_text_is_its_own_sentence() -> None:
    mail = ("From: Tidewater Outfitters <orders@tidewater-outfitters.example>\n"
            "Subject: Your order #TW-20931 has shipped!\n\n"
            "Carrier: ParcelPoint Ground\nTracking number: PP4471-9938-02\n\n"
            "| Coffee | Origin | 1-9 bags |\n|---|---|---|\n| Harbor Blend | Brazil / Colombia | 21.50 |\n"
            "| Yirgacheffe Kochere | Ethiopia | 32.75 |\n\n"
            "```\nhttp_port = 80\nidle_timeout = \"60s\"\nbroker.port: 5690\n```")
    assert texts(mail) == [
        "From: Tidewater Outfitters <orders@tidewater-outfitters.example>",
        "Subject: Your order #TW-20931 has shipped!", "Carrier: ParcelPoint Ground",
        "Tracking number: PP4471-9938-02", "| Coffee | Origin | 1-9 bags |", "|---|---|---|",
        "| Harbor Blend | Brazil / Colombia | 21.50 |", "| Yirgacheffe Kochere | Ethiopia | 32.75 |",
        "```", "http_port = 80", 'idle_timeout = "60s"', "broker.port: 5690", "```"]


def test_a_wrapped_line_of_prose_stays_one_sentence_even_with_a_colon_in_it() -> None:
    prose = ("The committee listed the three reasons for the delay in its long report, which\n"
             "were: cost, speed and the weather over the mountains in that season.")
    assert texts(prose) == [prose]
